/**
 * Public progress lookup (办件进度查询), no login: case number + the applicant's phone give the
 * status, the due date, what to bring for a correction and why a case was refused — nothing
 * about the applicant. The old man need not walk to the centre to ask; any node of the tree
 * answers for the cases below it (the city's site for the whole city).
 */
import { langButton } from '../app.js'
import { api, qs } from '../lib/api.js'
import { ctx } from '../lib/ctx.js'
import { h, mount } from '../lib/dom.js'
import { t } from '../lib/i18n.js'
import { fmtDay, statusPill } from '../lib/format.js'
import { faceScale } from '../lib/rate-screen.js'

export function render(_params, query) {
  const id = h('input', { type: 'text', id: 'pg-id', name: 'id', autocomplete: 'off', spellcheck: 'false', placeholder: '511302101201-20261123-0001', value: query.get('id') ?? '', autofocus: true, class: 'mono' })
  const phone = h('input', { type: 'tel', id: 'pg-phone', name: 'phone', autocomplete: 'tel', inputmode: 'tel' })
  const out = h('div', { 'aria-live': 'polite' })
  const submit = h('button', { class: 'btn big', type: 'submit' }, t('progress.submit'))

  const onsubmit = async (e) => {
    e.preventDefault()
    submit.disabled = true
    try {
      const r = await api('GET', '/api/public/progress' + qs({ id: id.value.trim(), phone: phone.value.trim() }), undefined, { auth: false })
      mount(out, h('div', { class: 'card', dataset: { result: 'found' } },
        h('h2', null, r.itemName),
        h('dl', { class: 'kv' },
          h('dt', null, t('case.number')), h('dd', { class: 'mono' }, r.id),
          h('dt', null, t('case.status')), h('dd', null, statusPill(r.status, true, r.resultKind)),
          h('dt', null, t('case.dueDate')), h('dd', { dataset: { field: 'due' } }, r.dueDate ? fmtDay(r.dueDate) : t('progress.noDue')),
          h('dt', null, t('progress.handler')), h('dd', { dataset: { field: 'handler' } }, r.handlerName),
          r.reason ? [h('dt', null, t('progress.reason')), h('dd', { dataset: { field: 'reason' } }, r.reason)] : null),
        r.correction ? h('div', { class: 'notice', dataset: { field: 'bring' } },
          h('p', null, h('strong', null, t('progress.bring'))),
          h('ul', null, r.correction.materials.map((m) => h('li', null, m))),
          r.correction.note ? h('p', null, t('progress.bringNote', { note: r.correction.note })) : null) : null,
        r.owed ? h('div', { class: 'notice', dataset: { field: 'owed' } },
          h('p', null, h('strong', null, t('progress.owed', { deadline: fmtDay(r.owed.deadline) }))),
          h('ul', null, r.owed.materials.map((m) => h('li', null, m)))) : null,
        rateBox(r, phone.value.trim()),
        h('p', { class: 'muted small', style: { marginTop: '14px' } }, t('progress.only'))))
    } catch (x) {
      mount(out, h('div', { class: 'notice error', role: 'alert', dataset: { result: 'error' } }, h('p', null, x.status === 404 ? t('progress.notFound') : x.message)))
    } finally {
      submit.disabled = false
    }
  }

  return h('div', { style: { maxWidth: '860px', margin: '0 auto' } },
    h('div', { class: 'public-head' },
      h('span', { class: 'brand-mark', 'aria-hidden': 'true' }, '通'),
      h('div', { class: 'spacer' }, h('strong', null, t('app.full')), h('div', { class: 'muted small' }, ctx.node.name)),
      langButton('btn secondary small')),
    h('div', { class: 'card' },
      h('h1', null, t('progress.title')),
      h('p', { class: 'muted' }, t('progress.lead')),
      h('form', { onsubmit, novalidate: true },
        h('div', { class: 'field' }, h('label', { htmlFor: 'pg-id' }, t('case.number')), id, h('span', { class: 'hint' }, t('progress.idHint'))),
        h('div', { class: 'field' }, h('label', { htmlFor: 'pg-phone' }, t('progress.phone')), phone, h('span', { class: 'hint' }, t('progress.phoneHint'))),
        submit)),
    out,
    h('p', { class: 'center' }, h('a', { href: '#/login' }, t('progress.staffLogin'))))
}

/** 好差评 on the public page: once the result is handed over, the applicant rates it here (same limits as the lookup). */
function rateBox(r, phone) {
  if (r.rated) return h('p', { class: 'notice', dataset: { rated: '' } }, t('progress.rated'))
  if (!r.ratable) return null
  let rating = 0
  const err = h('div', { class: 'notice error', role: 'alert', hidden: true })
  const box = h('div', { class: 'card', dataset: { publicRating: '' } })
  const send = h('button', { class: 'btn', type: 'button', dataset: { confirm: 'rated' }, onclick: async () => {
    if (!rating) return show(t('action.pickRating'))
    send.disabled = true
    try {
      await api('POST', '/api/public/rating', { id: r.id, phone, rating }, { auth: false })
      mount(box, h('p', { class: 'notice', dataset: { rateThanks: String(rating) } }, t('progress.rateDone')))
    } catch (x) {
      show(x.message)
    } finally {
      send.disabled = false
    }
  } }, t('rate.submit'))
  const show = (m) => ((err.textContent = m), (err.hidden = false))
  mount(box, h('p', null, t('progress.rateLead')), faceScale((n) => ((rating = n), (err.hidden = true))), err, send)
  return box
}
