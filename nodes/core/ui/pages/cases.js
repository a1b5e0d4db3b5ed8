/**
 * The cases held at this node. At a village: the cases taken in here, whatever level decides
 * them — the agent delivers the results and records the ratings. Elsewhere: every case here.
 */
import { remember } from '../app.js'
import { api, qs } from '../lib/api.js'
import { ctx, loadCatalogue, loadItems } from '../lib/ctx.js'
import { caseTable } from '../lib/case-table.js'
import { h, mount } from '../lib/dom.js'
import { t } from '../lib/i18n.js'
import { loadUnits } from '../lib/units.js'

const FILTERS = {
  all: '',
  open: 'submitted,accepted,correction',
  ready: 'approved,denied',
  delivered: 'delivered',
  withdrawn: 'withdrawn',
}

export async function render(_params, query) {
  await loadCatalogue()
  let filter = FILTERS[query.get('f')] !== undefined ? query.get('f') : 'all'
  let scope = query.get('scope') ?? (ctx.node.level === 'village' ? 'origin' : 'all')
  const body = h('div')
  const segs = h('div', { class: 'segmented', role: 'group', 'aria-label': t('cases.filter') })
  const scopes = h('div', { class: 'segmented', role: 'group', 'aria-label': t('cases.scope') })
  const find = h('input', { type: 'search', placeholder: t('cases.find'), 'aria-label': t('cases.find'), style: { maxWidth: '320px', minHeight: '46px' } })
  let all = []
  let unsent = new Set()

  const draw = () => {
    const q = find.value.trim().toLowerCase()
    const shown = q ? all.filter((c) => c.id.includes(q) || c.applicantName.toLowerCase().includes(q)) : all
    mount(body, caseTable(shown, { caption: t('nav.cases'), unsent }))
  }
  const load = async () => {
    remember('/cases', qs({ f: filter === 'all' ? '' : filter, scope: scope === (ctx.node.level === 'village' ? 'origin' : 'all') ? '' : scope }))
    mount(segs, Object.keys(FILTERS).map((k) => h('button', { type: 'button', 'aria-pressed': String(k === filter), onclick: () => ((filter = k), void load()) }, t('cases.f.' + k))))
    if (ctx.node.level !== 'village') {
      mount(scopes, ['all', 'handler', 'origin'].map((k) => h('button', { type: 'button', 'aria-pressed': String(k === scope), onclick: () => ((scope = k), void load()) }, t('cases.scope.' + k))))
    }
    const res = await api('GET', '/api/cases' + qs({
      status: FILTERS[filter], limit: 1000,
      origin: scope === 'origin' ? ctx.node.code : '', handler: scope === 'handler' ? ctx.node.code : '',
    }))
    // Cases whose changes have not reached the parent yet (GET /api/sync/waiting: the backlog only).
    const [, , waiting] = await Promise.all([loadItems(res.cases.map((c) => c.itemCode)), loadUnits({ need: res.cases.flatMap((c) => [c.originCode, c.handlerCode]) }),
      ctx.node.parent ? api('GET', '/api/sync/waiting').catch(() => null) : null])
    unsent = new Set(waiting?.cases ?? [])
    all = res.cases
    draw()
  }
  find.addEventListener('input', draw)
  await load()

  const ready = all.filter((c) => (c.status === 'approved' || c.status === 'denied') && c.originCode === ctx.node.code).length
  return h('div', null,
    h('div', { class: 'page-head' },
      h('div', null, h('h1', null, ctx.node.level === 'village' ? t('cases.titleVillage') : t('cases.title')), h('p', { class: 'sub' }, t('cases.lead.' + (ctx.node.level === 'village' ? 'village' : 'other')))),
      h('div', { class: 'actions' }, ctx.user.role === 'agent' || ctx.user.role === 'staff' ? h('a', { class: 'btn', href: '#/items' }, t('cases.new')) : null)),
    ready && filter === 'all' ? h('div', { class: 'notice ok' }, t('cases.readyHint', { n: ready }), ' ', h('a', { href: '#/cases?f=ready' }, t('cases.f.ready'))) : null,
    h('div', { class: 'toolbar' }, segs, ctx.node.level !== 'village' ? scopes : null, h('span', { class: 'spacer' }), find),
    body)
}
