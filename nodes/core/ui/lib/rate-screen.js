/**
 * 好差评 by the applicant: five faces to tap, never a clerk's click. The agent turns the screen
 * towards the applicant (a full-screen view opened after delivery); the public page shows the
 * same faces after a progress lookup.
 */
import { h, mount } from './dom.js'
import { t } from './i18n.js'
import { ratingName } from './format.js'

/** Five face buttons, 非常满意 first; `onPick(n)` on a tap. */
export function faceScale(onPick) {
  const buttons = [5, 4, 3, 2, 1].map((n) => h('button', {
    type: 'button', class: ['face-btn', 'r' + n], 'aria-pressed': 'false', dataset: { rating: String(n) },
    onclick: () => {
      for (const b of buttons) b.setAttribute('aria-pressed', String(b === buttons[5 - n]))
      onPick(n)
    },
  }, h('span', { class: ['face', 'f' + n], 'aria-hidden': 'true' }, h('span', { class: 'mouth' })), h('span', { class: 'face-label' }, ratingName(n))))
  return h('div', { class: 'face-scale', role: 'group', 'aria-label': t('rate.pick') }, buttons)
}

/**
 * Opens the full-screen rating view. `submit(rating, comment)` records it (throws with a message
 * to show); then the view thanks the applicant and closes by itself after a few seconds (or on
 * 完成). Resolves with the rating given, or null when closed without one.
 */
/** How long the thanks stay on screen before the agent's page comes back. */
const THANKS_MS = 3000

export function openRateScreen({ title, subtitle, submit }) {
  return new Promise((resolve) => {
    let rating = 0
    const err = h('div', { class: 'notice error', role: 'alert', hidden: true })
    const comment = h('textarea', { id: 'rate-comment', rows: '2', maxlength: '500' })
    const send = h('button', { class: 'btn big', type: 'button', dataset: { confirm: 'rated' }, onclick: () => void go() })
    send.textContent = t('rate.submit')
    const body = h('div', { class: 'rate-body' })
    const screen = h('dialog', { class: 'rate-screen', 'aria-labelledby': 'rate-title', dataset: { rateScreen: '' } },
      h('div', { class: 'rate-inner' }, h('h1', { id: 'rate-title' }, t('rate.title')), h('p', { class: 'rate-sub' }, title, subtitle ? ' · ' + subtitle : ''), body))
    const close = (v) => {
      screen.close()
      screen.remove()
      resolve(v)
    }
    mount(body,
      h('p', { class: 'rate-lead' }, t('rate.lead')),
      faceScale((n) => ((rating = n), (err.hidden = true))),
      h('div', { class: 'field' }, h('label', { htmlFor: 'rate-comment' }, t('rate.comment')), comment),
      err,
      h('div', { class: 'row' }, send, h('button', { class: 'btn secondary', type: 'button', dataset: { rateCancel: '' }, onclick: () => close(null) }, t('rate.later'))))
    async function go() {
      if (!rating) return fail(t('action.pickRating'))
      send.disabled = true
      try {
        await submit(rating, comment.value.trim() || undefined)
        mount(body, h('div', { class: 'rate-thanks', dataset: { rateThanks: String(rating) } },
          h('p', null, t('rate.thanks')), h('p', { class: 'muted' }, ratingName(rating)),
          h('button', { class: 'btn', type: 'button', dataset: { rateClose: '' }, onclick: () => close(rating) }, t('rate.close'))))
        setTimeout(() => screen.open && close(rating), THANKS_MS)
      } catch (x) {
        fail(x.message)
      } finally {
        send.disabled = false
      }
    }
    function fail(msg) {
      err.textContent = msg
      err.hidden = false
    }
    screen.addEventListener('cancel', (e) => {
      e.preventDefault()
      close(null)
    })
    document.body.append(screen)
    screen.showModal()
    screen.querySelector('.face-btn')?.focus()
  })
}
