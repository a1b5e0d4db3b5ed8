/**
 * 并联审批 (联办) on the case page: each department's opinion (or 待出具意见 with its own due
 * date, yellow/red like the case's), in a box and on the timeline, and the form a staff user of
 * a department gives its opinion with. The rules are the protocol's (protocol/parallel.ts).
 */
import { api } from './api.js'
import { ctx, P } from './ctx.js'
import { h, mount } from './dom.js'
import { t } from './i18n.js'
import { dueChip, personName } from './format.js'

/** A department's own due date, as a chip: coloured only while the case waits for it. */
function opinionDue(c, o) {
  return dueChip({ dueDate: o.dueDate, status: c.status === 'accepted' ? 'accepted' : 'correction' }, true)
}

/** The opinions box under the case's head; null when the item is not 并联. */
export function opinionsBox(c) {
  const list = c.opinions ?? []
  if (!list.length) return null
  const no = P.firstDisagreement(list)
  const pending = P.pendingDepartments(list)
  const open = c.status === 'accepted'
  const note = !open ? null : no ? t('par.denyNow', { dept: no.department }) : pending.length ? t('par.waiting', { list: pending.join('、') }) : t('par.allAgreed')
  return h('section', { class: ['notice', open && (no ? 'error' : pending.length ? 'warn' : null)], dataset: { opinions: pending.join('、') }, 'aria-labelledby': 'par-h' },
    h('h2', { id: 'par-h', class: 'small' }, t('par.title')),
    h('p', { class: 'small muted' }, t('par.lead')),
    h('ul', { class: 'opinions' }, list.map((o) => h('li', { dataset: { department: o.department, opinion: o.opinion ? String(o.opinion.agree) : 'pending' } },
      h('strong', null, o.department), ' · ',
      o.opinion
        ? [h('span', { class: ['pill', o.opinion.agree ? 's-approved' : 's-denied'] }, t(o.opinion.agree ? 'par.agree' : 'par.disagree')),
          ' ', h('span', { class: 'small muted' }, personName(o.opinion.user)),
          o.opinion.reason ? h('div', { class: 'small' }, t('par.reason') + o.opinion.reason) : null]
        : [h('span', { class: 'pill s-accepted' }, t('par.pending')), ' ', o.dueDate ? opinionDue(c, o) : h('span', { class: 'small muted' }, t('par.limit', { n: o.days }))]))),
    note ? h('p', { dataset: { opinionsNote: '' } }, note) : null)
}

/** What an opinion event is called on the timeline: “自然资源所意见：同意”. */
export function opinionWhat(e) {
  return t('par.opinionOf', { dept: e.department, what: t(e.agree ? 'par.agree' : 'par.disagree') })
}

/** Timeline rows for the departments still to give their opinion (while the case waits for them). */
export function pendingOnTimeline(c) {
  if (c.status !== 'accepted') return []
  return (c.opinions ?? []).filter((o) => !o.opinion).map((o) => h('li', { class: 'ev-opinion-pending', dataset: { pending: o.department } },
    h('div', { class: 'what' }, t('par.opinionOf', { dept: o.department, what: t('par.pending') })),
    h('div', { class: 'when' }, opinionDue(c, o))))
}

/** May this user give an opinion on the case now, and for which department? */
export function myDepartment(c) {
  const d = ctx.user?.department
  return d && P.pendingDepartments(c.opinions ?? []).includes(d) && P.mayGiveOpinion(ctx.user, d) === null ? d : null
}

/** The form: 同意, or 不同意 with its reason, in the name of the user's department. */
export function opinionForm(c, { cancel, done }) {
  const dept = myDepartment(c)
  const err = h('div', { class: 'notice error', role: 'alert', hidden: true })
  const reason = h('textarea', { id: 'op-reason', rows: '3' })
  const send = async (agree, button) => {
    err.hidden = true
    const why = reason.value.trim()
    if (!agree && !why) return fail(t('par.needReason'))
    button.disabled = true
    try {
      done(await api('POST', `/api/cases/${encodeURIComponent(c.id)}/events`, { type: 'opinion', department: dept, agree, ...(why ? { reason: why } : {}) }))
    } catch (x) {
      fail(x.message)
    } finally {
      button.disabled = false
    }
  }
  const fail = (msg) => {
    mount(err, msg)
    err.hidden = false
  }
  const yes = h('button', { class: 'btn ok', type: 'button', dataset: { opinion: 'agree' }, onclick: () => void send(true, yes) }, t('par.agree'))
  const no = h('button', { class: 'btn danger', type: 'button', dataset: { opinion: 'disagree' }, onclick: () => void send(false, no) }, t('par.disagree'))
  return h('form', { class: 'action-form', dataset: { form: 'opinion' }, onsubmit: (e) => e.preventDefault() },
    h('h3', null, t('par.yours', { dept })),
    h('p', { class: 'muted small' }, t('action.help.opinion')),
    err,
    h('div', { class: 'field' }, h('label', { htmlFor: 'op-reason' }, t('par.disagreeReason')), reason),
    h('div', { class: 'row' }, yes, no, h('button', { class: 'btn secondary', type: 'button', onclick: cancel }, t('cancel'))))
}
