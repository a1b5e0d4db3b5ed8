/**
 * The table of cases the lists and the queue share: status, where decided (now: after any
 * transfer), with a tag for 异地件 (decided outside the window's own line) and 转办, due-date colours.
 */
import { ctx, itemName, itemOf } from './ctx.js'
import { h } from './dom.js'
import { t } from './i18n.js'
import { dueChip, dueState, fmtShort, ratingName, statusPill, unitLabel } from './format.js'

/** `unsent`: ids of cases with changes not yet sent up to the parent (marked 未上传). */
export function caseTable(cases, { caption, empty, unsent }) {
  if (!cases.length) return h('div', { class: 'card empty' }, h('div', { class: 'big' }, empty ?? t('cases.empty')))
  return h('div', { class: 'table-wrap' }, h('table', { class: 'table', dataset: { table: 'cases' } },
    h('caption', { class: 'sr-only' }, caption),
    h('thead', null, h('tr', null,
      [t('case.number'), t('case.item'), t('case.applicant'), t('case.status'), t('case.decidedAt'), t('case.dueDate'), t('case.createdAt'), t('case.rating')]
        .map((x) => h('th', { scope: 'col' }, x)))),
    h('tbody', null, cases.map((c) => {
      const due = dueState(c)
      return h('tr', { class: due === 'overdue' ? 'row-overdue' : due === 'soon' ? 'row-soon' : null, dataset: { case: c.id, due } },
        h('td', null, h('a', { class: 'case-link', href: '#/case/' + encodeURIComponent(c.id) }, c.id),
          unsent?.has(c.id) ? h('span', { class: 'tag unsent', title: t('case.unsentTitle'), dataset: { tag: 'unsent' } }, t('case.unsentTag')) : null),
        h('td', null, itemName(c.itemCode)),
        // textContent: an applicant's name is shown as typed, never as markup.
        h('td', { dataset: { field: 'applicant' } }, c.applicantName),
        h('td', null, statusPill(c.status, false, itemOf(c.itemCode)?.resultKind), c.flagged ? h('span', { class: 'tag required', title: t('case.flagged'), style: { marginLeft: '6px' } }, '⚑') : null),
        h('td', null, c.handlerCode === ctx.node.code ? t('cases.here') : unitLabel(c.handlerCode),
          c.crossUnit ? h('span', { class: 'tag cross', title: t('case.crossTitle'), dataset: { tag: 'cross' } }, t('case.crossTag')) : null,
          c.transfers ? h('span', { class: 'tag transfer', title: t('case.transferTitle', { n: c.transfers }), dataset: { tag: 'transfer' } }, t('case.transferTag')) : null),
        h('td', null, dueChip(c)),
        h('td', { class: 'nowrap' }, fmtShort(c.createdAt)),
        h('td', null, c.rating ? h('span', { class: 'stars' }, ratingName(c.rating)) : h('span', { class: 'muted' }, '—')))
    }))))
}
