/**
 * 省平台对接 (administrators and supervisors): what this node owes the province — pending,
 * failed with the province's reason, acknowledged — the last success and error, and (for an
 * administrator) sending failed records again. The records themselves stay on the node: the
 * page lists them by case number and stage.
 */
import { api, qs } from '../lib/api.js'
import { ctx } from '../lib/ctx.js'
import { h, mount, toast } from '../lib/dom.js'
import { t } from '../lib/i18n.js'
import { fmtTime } from '../lib/format.js'
import { remember } from '../app.js'

const STATES = ['failed', 'pending', 'acked']

export async function render(_params, query) {
  const state = { state: STATES.includes(query?.get('state')) ? query.get('state') : 'failed', page: Math.max(1, Number(query?.get('page')) || 1) }
  const root = h('div')
  const load = async () => {
    remember('/province', '?' + new URLSearchParams({ state: state.state, page: String(state.page) }))
    const v = await api('GET', '/api/province' + qs({ state: state.state, page: state.page, pageSize: 20 }))
    mount(root, v.configured ? view(v, state, load) : h('div', { class: 'notice warn', role: 'status' }, t('prov.off')))
  }
  await load()
  return h('div', null,
    h('div', { class: 'page-head' }, h('div', null, h('h1', null, t('prov.title')), h('p', { class: 'sub' }, t('prov.lead')))),
    root)
}

function view(v, state, load) {
  const admin = ctx.user.role === 'admin'
  const retry = async (keys) => {
    const r = await api('POST', '/api/province/retry', keys ? { keys } : {})
    toast(t('prov.retried', { n: r.retried }))
    await load()
  }
  const pages = Math.max(1, Math.ceil(v.list.total / v.list.pageSize))
  return h('div', null,
    h('div', { class: 'kpis' },
      kpi('pending', t('prov.pending'), v.pending, v.oldestPending ? t('prov.oldest', { at: fmtTime(v.oldestPending) }) : null),
      kpi('failed', t('prov.failed'), v.failed, null, v.failed ? 'warn' : ''),
      kpi('acked', t('prov.acked'), v.acked, null, 'good'),
      kpi('last-success', t('prov.lastSuccess'), v.lastSuccess ? fmtTime(v.lastSuccess) : t('prov.never'))),
    v.lastError ? h('div', { class: 'notice warn', role: 'status', dataset: { field: 'last-error' } },
      h('strong', null, t('prov.lastError'), v.lastErrorAt ? `（${fmtTime(v.lastErrorAt)}）` : '', '：'), v.lastError) : null,
    h('div', { class: 'card' },
      h('div', { class: 'card-head' },
        h('div', { class: 'segmented', role: 'group', 'aria-label': t('prov.title') }, STATES.map((s) => h('button', {
          type: 'button', 'aria-pressed': String(state.state === s), dataset: { state: s },
          onclick: () => ((state.state = s), (state.page = 1), void load()),
        }, t('prov.state.' + s)))),
        admin && state.state === 'failed' && v.list.total ? h('button', { class: 'btn secondary small', type: 'button', dataset: { action: 'retry-all' }, onclick: () => void retry() }, t('prov.retryAll')) : null),
      v.list.records.length ? h('div', { class: 'table-wrap' }, h('table', { class: 'table' },
        h('thead', null, h('tr', null,
          h('th', { scope: 'col' }, t('prov.case')), h('th', { scope: 'col' }, t('prov.kind')), h('th', { scope: 'col' }, t('prov.attempts')),
          h('th', { scope: 'col' }, t('prov.reason')), h('th', { scope: 'col' }, t('prov.at')), admin && state.state === 'failed' ? h('th', { scope: 'col' }, t('prov.actions')) : null)),
        h('tbody', null, v.list.records.map((r) => h('tr', { dataset: { key: r.key } },
          h('td', { class: 'mono' }, h('a', { href: `#/case/${encodeURIComponent(r.caseId)}` }, r.caseId)),
          h('td', null, r.kind === 'rating' ? t('prov.kind.rating') : t('prov.stage.' + r.stage)),
          h('td', { class: 'num' }, String(r.attempts)),
          h('td', { dataset: { field: 'reason' } }, r.lastError ?? '—'),
          h('td', null, r.state === 'acked' ? t('prov.ackedAt', { at: fmtTime(r.ackedAt) }) : r.state === 'pending' ? t('prov.next', { at: fmtTime(r.nextAt) }) : t('prov.createdAt', { at: fmtTime(r.createdAt) })),
          admin && state.state === 'failed' ? h('td', null, h('button', { class: ['btn', 'small', 'secondary'], type: 'button', dataset: { action: 'retry' }, onclick: () => void retry([r.key]) }, t('prov.retry'))) : null))))) : h('p', { class: 'muted' }, t('prov.none')),
      pages > 1 ? h('div', { class: 'actions' },
        h('button', { class: 'btn ghost small', type: 'button', disabled: state.page <= 1, onclick: () => ((state.page -= 1), void load()) }, t('prov.prev')),
        h('span', { class: 'muted small' }, t('prov.page', { page: state.page, pages, total: v.list.total })),
        h('button', { class: 'btn ghost small', type: 'button', disabled: state.page >= pages, onclick: () => ((state.page += 1), void load()) }, t('prov.nextPage'))) : null))
}

function kpi(key, label, shown, sub, tone = '') {
  return h('div', { class: ['kpi', tone], dataset: { kpi: key } }, h('div', { class: 'k' }, label), h('div', { class: 'v' }, String(shown)), sub ? h('div', { class: 'd' }, sub) : null)
}
