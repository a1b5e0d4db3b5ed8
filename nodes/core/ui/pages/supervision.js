/**
 * 电子监察 for supervisors: the red and yellow cases and violations of this node's subtree, from
 * the warnings each handling unit sends up (case number, item, unit, type, since — no applicant),
 * filtered by type and level; 督办 on a row opens the notice form (to the handling unit, with a
 * reply deadline). The notice goes down to that unit; its reply shows on the 督办 page.
 */
import { remember } from '../app.js'
import { api, qs } from '../lib/api.js'
import { ctx, today } from '../lib/ctx.js'
import { h, mount } from '../lib/dom.js'
import { t } from '../lib/i18n.js'
import { fmtDay, unitLabel } from '../lib/format.js'
import { loadUnits } from '../lib/units.js'

const RED = { background: 'var(--bad-soft)', color: 'var(--bad)', borderColor: '#f3bcb6' }
const YELLOW = { background: '#fff6d1', color: '#7a5b00', borderColor: '#f0d98a' }
const TYPES = ['overdue', 'not-accepted', 'flow', 'irregular-acceptance', 'rect-overdue']
const LEVELS = ['red', 'yellow']

/** A day `n` calendar days after today (YYYY-MM-DD): the default reply deadline. */
const later = (n) => new Date(Date.parse(today() + 'T00:00:00Z') + n * 86_400_000).toISOString().slice(0, 10)

export async function render(_params, query) {
  let type = TYPES.includes(query.get('type')) ? query.get('type') : ''
  let level = LEVELS.includes(query.get('level')) ? query.get('level') : ''
  const body = h('div')
  const form = h('div')
  const kpis = h('div', { class: 'kpis' })
  const types = h('div', { class: 'segmented', role: 'group', 'aria-label': t('sup.filterType') })
  const levels = h('div', { class: 'segmented', role: 'group', 'aria-label': t('sup.filterLevel') })

  const load = async () => {
    remember('/supervision', qs({ type, level }))
    mount(types, ['', ...TYPES].map((k) => h('button', { type: 'button', 'aria-pressed': String(k === type), dataset: { filterType: k || 'all' }, onclick: () => ((type = k), void load()) }, k ? t('sup.type.' + k) : t('sup.all'))))
    mount(levels, ['', ...LEVELS].map((k) => h('button', { type: 'button', 'aria-pressed': String(k === level), dataset: { filterLevel: k || 'all' }, onclick: () => ((level = k), void load()) }, k ? t('sup.' + k) : t('sup.all'))))
    const res = await api('GET', '/api/supervision' + qs({ type, level }))
    await loadUnits({ need: res.warnings.map((w) => w.unit) })
    mount(kpis,
      h('div', { class: ['kpi', res.red ? 'bad' : 'good'], dataset: { kpi: 'sup-red' } }, h('div', { class: 'k' }, t('sup.red')), h('div', { class: 'v' }, String(res.red))),
      h('div', { class: ['kpi', res.yellow ? 'warn' : 'good'], dataset: { kpi: 'sup-yellow' } }, h('div', { class: 'k' }, t('sup.yellow')), h('div', { class: 'v' }, String(res.yellow))))
    mount(body, table(res.warnings, (w) => mount(form, noticeForm(w, (sent) => {
      mount(form, sent ? h('div', { class: 'notice ok', role: 'status', dataset: { sent: w.caseId } }, t('notice.sent', { unit: sent })) : null)
      void load()
    }))))
  }
  await load()
  return h('div', null,
    h('div', { class: 'page-head' }, h('div', null, h('h1', null, t('sup.title')), h('p', { class: 'sub' }, t('sup.lead', { name: ctx.node.name })))),
    kpis,
    h('div', { class: 'row', style: { marginBottom: '12px' } }, types, levels),
    h('p', { class: 'legend muted' }, t('sup.legend')),
    form,
    body)
}

function table(warnings, onIssue) {
  if (!warnings.length) return h('div', { class: 'card empty' }, h('div', { class: 'big' }, t('sup.empty')))
  return h('div', { class: 'table-wrap' }, h('table', { class: 'table', dataset: { table: 'warnings' } },
    h('caption', { class: 'sr-only' }, t('sup.title')),
    h('thead', null, h('tr', null, ['level', 'case', 'item', 'unit', 'type', 'since', 'detail', 'action'].map((k) => h('th', { scope: 'col' }, t('sup.col.' + k))))),
    h('tbody', null, warnings.map((w) => h('tr', { class: w.level === 'red' ? 'row-overdue' : 'row-soon', dataset: { warning: `${w.caseId}|${w.type}`, level: w.level } },
      h('td', null, h('span', { class: 'tag', style: w.level === 'red' ? RED : YELLOW }, t('sup.' + w.level))),
      h('td', { class: 'mono' }, w.caseId),
      h('td', null, w.itemName),
      h('td', { dataset: { field: 'unit' } }, w.unitName ?? unitLabel(w.unit)),
      h('td', null, t('sup.type.' + w.type)),
      h('td', { class: 'nowrap' }, fmtDay(w.since)),
      h('td', { class: 'muted', style: { maxWidth: '320px' } }, w.detail ?? ''),
      h('td', null,
        h('button', { class: 'btn secondary', type: 'button', dataset: { action: 'issue-notice' }, onclick: () => onIssue(w) }, t('sup.issue')),
        w.notices ? h('div', { class: 'muted', style: { fontSize: '.85rem' } }, t('sup.issued', { n: w.notices })) : null))))))
}

function noticeForm(w, done) {
  const unit = w.unitName ?? unitLabel(w.unit)
  const text = h('textarea', { id: 'notice-text', rows: 3, maxLength: 1000, autofocus: true }, t('notice.textDefault', { type: t('sup.type.' + w.type) }))
  const deadline = h('input', { id: 'notice-deadline', type: 'date', value: later(3), min: today(), required: true })
  const msg = h('div', { role: 'status' })
  const send = async (e) => {
    e.preventDefault()
    if (!text.value.trim()) return mount(msg, h('div', { class: 'notice error', role: 'alert' }, t('notice.needText')))
    try {
      await api('POST', '/api/notices', { target: w.unit, caseId: w.caseId, type: w.type, text: text.value.trim(), deadline: deadline.value })
      done(unit)
    } catch (x) {
      mount(msg, h('div', { class: 'notice error', role: 'alert' }, x.message))
    }
  }
  return h('form', { class: 'card', onsubmit: send, dataset: { form: 'notice' } },
    h('h2', null, t('notice.formTitle', { case: w.caseId })),
    h('div', { class: 'field' }, h('span', { class: 'label' }, t('notice.target')), h('span', { dataset: { field: 'target' } }, unit)),
    h('div', { class: 'field' }, h('label', { htmlFor: 'notice-text' }, t('notice.text')), text),
    h('div', { class: 'field' }, h('label', { htmlFor: 'notice-deadline' }, t('notice.deadline')), deadline),
    msg,
    h('div', { class: 'row' },
      h('button', { class: 'btn', type: 'submit', dataset: { action: 'send-notice' } }, t('notice.send')),
      h('button', { class: 'btn secondary', type: 'button', onclick: () => done(null) }, t('cancel'))))
}
