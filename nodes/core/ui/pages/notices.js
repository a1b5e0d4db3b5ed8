/**
 * 督办: a supervisor sees the notices this node sent and each unit's reply (late or on time); a
 * unit's staff see the notices addressed to it, newest first, and reply to each — the reply is
 * signed by this node and goes back up to the supervisor who sent it.
 */
import { api } from '../lib/api.js'
import { ctx } from '../lib/ctx.js'
import { h, mount } from '../lib/dom.js'
import { t } from '../lib/i18n.js'
import { fmtDay, fmtShort, personName, unitLabel } from '../lib/format.js'

export async function render() {
  const out = ctx.user.role === 'supervisor'
  const body = h('div')
  const load = async () => {
    const res = await api('GET', '/api/notices?box=' + (out ? 'out' : 'in'))
    mount(body,
      h('div', { class: 'kpis' }, h('div', { class: ['kpi', res.awaiting ? 'warn' : 'good'], dataset: { kpi: 'notices-awaiting' } },
        h('div', { class: 'k' }, t('notice.awaiting')), h('div', { class: 'v' }, String(res.awaiting)))),
      res.notices.length
        ? res.notices.map((n) => card(n, out, load))
        : h('div', { class: 'card empty' }, h('div', { class: 'big' }, out ? t('notice.emptyOut') : t('notice.emptyIn'))))
  }
  await load()
  return h('div', null,
    h('div', { class: 'page-head' }, h('div', null,
      h('h1', null, out ? t('notice.titleOut') : t('notice.titleIn')),
      h('p', { class: 'sub' }, out ? t('notice.leadOut', { name: ctx.node.name }) : t('notice.leadIn', { name: ctx.node.name })))),
    body)
}

function state(n) {
  if (!n.reply) return h('span', { class: ['tag', n.late ? 'required' : ''], dataset: { state: n.late ? 'late' : 'awaiting' } }, n.late ? t('notice.late') : t('notice.awaiting'))
  return h('span', { class: ['tag', n.late ? 'required' : ''], dataset: { state: n.late ? 'replied-late' : 'replied' } }, `${t('notice.replied')} · ${n.late ? t('notice.late') : t('notice.onTime')}`)
}

function card(n, out, reload) {
  const row = (label, value) => h('div', { class: 'field', style: { marginBottom: '8px' } }, h('span', { class: 'label' }, label), value)
  return h('section', { class: 'card', dataset: { notice: n.id } },
    h('div', { class: 'row' }, h('h2', { style: { margin: 0 } }, out ? n.targetName ?? unitLabel(n.target) : n.issuerName ?? unitLabel(n.issuer)), state(n)),
    row(out ? t('notice.col.to') : t('notice.col.from'), h('span', null, out ? n.targetName ?? unitLabel(n.target) : `${n.issuerName ?? unitLabel(n.issuer)} · ${personName(n.issuedBy)}`)),
    n.caseId ? row(t('notice.col.case'), h('span', { class: 'mono' }, n.caseId, n.type ? ` · ${t('sup.type.' + n.type)}` : '')) : null,
    row(t('notice.col.text'), h('p', { style: { margin: 0 }, dataset: { field: 'text' } }, n.text)),
    row(t('notice.col.deadline'), h('span', null, fmtDay(n.deadline), ' · ', t('notice.col.issued'), ' ', fmtShort(n.issuedAt))),
    row(t('notice.col.reply'), n.reply
      ? h('div', { dataset: { field: 'reply' } }, h('p', { style: { margin: 0 } }, n.reply.text), h('span', { class: 'muted' }, t('notice.replyBy', { user: personName(n.reply.user), at: fmtShort(n.reply.at) })))
      : h('span', { class: 'muted' }, t('notice.noReply'))),
    out || ctx.user.role === 'supervisor' ? null : replyForm(n, reload))
}

function replyForm(n, reload) {
  const id = 'reply-' + n.id
  const text = h('textarea', { id, rows: 3, maxLength: 1000 })
  const msg = h('div', { role: 'status' })
  const send = async (e) => {
    e.preventDefault()
    if (!text.value.trim()) return mount(msg, h('div', { class: 'notice error', role: 'alert' }, t('notice.needReply')))
    try {
      await api('POST', `/api/notices/${encodeURIComponent(n.id)}/reply`, { text: text.value.trim() })
      await reload()
    } catch (x) {
      mount(msg, h('div', { class: 'notice error', role: 'alert' }, x.message))
    }
  }
  return h('form', { onsubmit: send, dataset: { form: 'reply' } },
    h('div', { class: 'field' }, h('label', { htmlFor: id }, t('notice.replyLabel')), text),
    msg,
    h('button', { class: 'btn', type: 'submit', dataset: { action: 'reply-notice' } }, n.reply ? t('notice.reply') : t('notice.replySend')))
}
