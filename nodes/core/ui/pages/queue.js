/**
 * The queue (待办件) of cases decided at this node, by due date: red when overdue, yellow when
 * due within a working day. Cases awaiting acceptance count as due today; cases waiting for a
 * correction have their clock stopped and go last. Supervisors see every open case held here.
 * Staff of a department see its share first: the 并联审批 cases awaiting its opinion, by the
 * department's own due date.
 */
import { api, qs } from '../lib/api.js'
import { ctx, loadCatalogue, loadItems, today } from '../lib/ctx.js'
import { caseTable } from '../lib/case-table.js'
import { h } from '../lib/dom.js'
import { t } from '../lib/i18n.js'
import { dueState } from '../lib/format.js'
import { loadUnits } from '../lib/units.js'

export async function render() {
  await loadCatalogue()
  const mine = ctx.user.role === 'staff'
  const res = await api('GET', '/api/cases' + qs({ status: 'submitted,accepted,correction', handler: mine ? ctx.node.code : '', limit: 1000 }))
  await Promise.all([loadItems(res.cases.map((c) => c.itemCode)), loadUnits({ need: res.cases.map((c) => c.handlerCode) })])
  const d = today()
  const key = (c) => (c.status === 'correction' ? '9999-12-31' : c.dueDate ?? d)
  const cases = res.cases.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : a.createdAt < b.createdAt ? -1 : 1))
  const share = mine && ctx.user.department ? await departmentShare(ctx.user.department, key) : null
  const n = (f) => cases.filter(f).length
  const chips = [
    { k: 'overdue', cls: 'bad', v: n((c) => dueState(c) === 'overdue') },
    { k: 'soon', cls: 'warn', v: n((c) => dueState(c) === 'soon') },
    { k: 'await', cls: '', v: n((c) => c.status === 'submitted') },
    { k: 'correction', cls: '', v: n((c) => c.status === 'correction') },
  ]
  return h('div', null,
    h('div', { class: 'page-head' }, h('div', null,
      h('h1', null, mine ? t('queue.title') : t('queue.titleSupervisor')),
      h('p', { class: 'sub' }, mine ? t('queue.lead', { name: ctx.node.name }) : t('queue.leadSupervisor')))),
    h('div', { class: 'kpis' }, chips.map((c) => h('div', { class: ['kpi', c.cls], dataset: { kpi: 'queue-' + c.k } },
      h('div', { class: 'k' }, t('queue.' + c.k)), h('div', { class: 'v' }, String(c.v))))),
    h('p', { class: 'legend muted' },
      h('span', null, h('span', { class: 'sw', style: { background: 'var(--bad)' } }), t('queue.legendRed')),
      h('span', null, h('span', { class: 'sw', style: { background: '#ffd54a' } }), t('queue.legendYellow'))),
    share,
    caseTable(cases, { caption: t('queue.title'), empty: t('queue.empty') }))
}

/** 并联审批: the cases accepted here awaiting `dept`'s opinion, coloured by its own due date. */
async function departmentShare(dept, key) {
  const res = await api('GET', '/api/cases' + qs({ awaiting: dept, handler: ctx.node.code, limit: 1000 }))
  await loadItems(res.cases.map((c) => c.itemCode))
  const rows = res.cases.map((c) => ({ ...c, dueDate: c.opinionDue ?? c.dueDate })).sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0))
  return h('section', { class: 'card', dataset: { share: dept }, style: { marginBottom: '16px' } },
    h('h2', null, t('queue.opinions', { dept }), ' ', h('span', { class: 'muted' }, `（${rows.length}）`)),
    h('p', { class: 'muted small' }, t('queue.opinionsLead')),
    caseTable(rows, { caption: t('queue.opinions', { dept }), empty: t('queue.noOpinions') }))
}
