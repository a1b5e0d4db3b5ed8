/** Change your own password: the current one, then the new one twice. Other sessions end. */
import { api } from '../lib/api.js'
import { ctx } from '../lib/ctx.js'
import { h, toast } from '../lib/dom.js'
import { t } from '../lib/i18n.js'

export function render() {
  const field = (id, label, autocomplete, hint) => {
    const input = h('input', { type: 'password', id, autocomplete, required: true })
    return { input, el: h('div', { class: 'field' }, h('label', { htmlFor: id }, label), input, hint ? h('span', { class: 'hint' }, hint) : null) }
  }
  const current = field('pw-current', t('pw.current'), 'current-password')
  const next = field('pw-new', t('pw.new'), 'new-password', t('pw.hint'))
  const again = field('pw-again', t('pw.again'), 'new-password')
  const err = h('div', { class: 'notice error', role: 'alert', hidden: true, tabindex: '-1' })
  const submit = h('button', { class: 'btn', type: 'submit' }, t('pw.submit'))
  const fail = (message) => {
    err.textContent = message
    err.hidden = false
    err.focus()
  }
  const onsubmit = async (e) => {
    e.preventDefault()
    err.hidden = true
    if (next.input.value !== again.input.value) return fail(t('pw.mismatch'))
    submit.disabled = true
    try {
      await api('PUT', '/api/users/me/password', { current: current.input.value, password: next.input.value })
      for (const f of [current, next, again]) f.input.value = ''
      toast(t('pw.done'))
    } catch (x) {
      fail(x.message)
    } finally {
      submit.disabled = false
    }
  }
  return h('div', null,
    h('div', { class: 'page-head' }, h('div', null, h('h1', null, t('pw.title')), h('p', { class: 'sub' }, `${ctx.user.name} · ${t('pw.lead')}`))),
    h('section', { class: 'card', style: { maxWidth: '480px' } }, err,
      h('form', { onsubmit, novalidate: true }, current.el, next.el, again.el, submit)))
}
