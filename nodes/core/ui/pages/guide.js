/** The item's guide (办事指南): what to bring, how long it takes, what it costs, who decides. */
import { ctx, loadCatalogue, P } from '../lib/ctx.js'
import { h } from '../lib/dom.js'
import { t } from '../lib/i18n.js'
import { kindTag, levelName, levelTag, unitLabel } from '../lib/format.js'
import { loadUnits } from '../lib/units.js'

export async function render({ code }) {
  const item = (await loadCatalogue()).get(code)
  await loadUnits()
  if (!item) throw new Error(t('guide.noItem', { code }))
  const handler = P.handlerFor(ctx.node.code, item)
  const canTakeIn = P.mayTakeIn(ctx.user.role) && !item.retired && typeof handler === 'string'
  return h('div', null,
    h('div', { class: 'crumbs' }, h('a', { href: '#/items' }, t('nav.items')), ' › ', item.name),
    h('div', { class: 'page-head' },
      h('div', null,
        h('h1', null, item.name),
        h('p', { class: 'sub row' }, levelTag(item.level), kindTag(item), h('span', { class: 'mono' }, item.code), item.pinyin ? h('span', { class: 'mono muted' }, item.pinyin) : null,
          h('span', null, t('guide.version', { v: item.version })))),
      h('div', { class: 'actions' },
        canTakeIn ? h('a', { class: 'btn big', href: '#/intake/' + encodeURIComponent(item.code), dataset: { action: 'start-intake' } }, t('guide.start')) : null)),
    item.retired ? h('div', { class: 'notice warn' }, t('guide.retired')) : null,
    h('div', { class: 'grid-2' },
      h('div', null,
        h('section', { class: 'card', 'aria-labelledby': 'g-mat' },
          h('h2', { id: 'g-mat' }, t('guide.materials')),
          h('p', { class: 'muted' }, t('guide.materialsLead')),
          h('ol', { class: 'materials' }, item.materials.map((m, i) => h('li', null,
            h('span', { class: 'idx', 'aria-hidden': 'true' }, String(i + 1)),
            h('span', { class: 'spacer' }, m.name),
            h('span', { class: ['tag', m.required ? 'required' : 'optional'] }, m.required ? t('mat.required') : t('mat.optional'))))))),
      h('div', null,
        h('section', { class: 'card', 'aria-labelledby': 'g-facts' },
          h('h2', { id: 'g-facts' }, t('guide.facts')),
          h('div', { class: 'facts' },
            fact(t('guide.promised'), item.kind === 'instant' ? t('kind.instant') : t('days', { n: item.promisedDays }), item.kind === 'instant' ? t('guide.onSpot') : t('guide.workingDays')),
            fact(t('guide.legal'), item.legalDays ? t('days', { n: item.legalDays }) : '—'),
            fact(t('guide.fee'), item.fee),
            fact(t('guide.visits'), t('guide.visitsN', { n: item.maxVisits })),
            fact(t('guide.online'), item.online ? t('yes') : t('no'))),
          h('dl', { class: 'kv' },
            h('dt', null, t('guide.department')), h('dd', null, item.department),
            h('dt', null, t('guide.level')), h('dd', null, levelName(item.level)),
            // 并联审批: the departments that review it in parallel, each within its own limit.
            item.parallel?.length ? [h('dt', null, t('guide.parallel')), h('dd', { dataset: { field: 'parallel' } }, item.parallel.map((d) => `${d.department}（${t('days', { n: d.days })}）`).join('、'))] : null)),
        h('section', { class: 'card', 'aria-labelledby': 'g-route' },
          h('h2', { id: 'g-route' }, t('guide.where')),
          typeof handler === 'string' ? routeBox(handler) : h('p', null, t('guide.notHere')),
          h('p', { class: 'muted', style: { marginTop: '12px' } }, typeof handler === 'string'
            ? (handler === ctx.node.code ? t('guide.decidedHere') : t('guide.decidedAbove', { level: levelName(item.level), department: item.department }))
            : null)))))
}

function fact(k, v, small) {
  return h('div', { class: 'fact' }, h('div', { class: 'k' }, k), h('div', { class: 'v' }, v, small ? h('small', null, ' ' + small) : null))
}

/**
 * This window → … → the deciding node → back to this window, drawn as a vertical route: up to
 * the common ancestor of the two (转报), down to the handler when it sits in another subtree
 * (转送), and back the same way (统一窗口出件).
 */
export function routeBox(handler) {
  const here = ctx.node.code
  const stops = P.routeBetween(here, handler).map((code) => ({
    name: code === here ? ctx.node.name : unitLabel(code),
    what: code === handler ? (code === here ? t('guide.stopHere') : t('guide.stopDecide'))
      : code === here ? t('guide.stopTake') : P.isInSubtree(handler, code) ? t('guide.stopRelay') : t('guide.stopPass'),
    decide: code === handler,
    code,
  }))
  if (handler !== here) stops.push({ name: ctx.node.name, what: t('guide.stopBack'), decide: false, code: here })
  return h('ol', { class: 'route', 'aria-label': t('guide.where'), dataset: { route: stops.map((s) => s.code).join(' ') } }, stops.map((s) => h('li', { class: s.decide ? 'decide' : null, dataset: { unit: s.code } },
    h('span', { class: 'nm' }, s.name), h('span', { class: 'what' }, s.what))))
}
