/** Login: which node this is (level, name, code, its place in the tree) and the roles it has. */
import { langButton, loggedIn } from '../app.js'
import { api, ApiFailure } from '../lib/api.js'
import { ctx, P } from '../lib/ctx.js'
import { h } from '../lib/dom.js'
import { t } from '../lib/i18n.js'
import { levelName, roleName } from '../lib/format.js'

/** The roles a node of each level has (a village point has one agent). */
const ROLES_AT = {
  village: ['agent'],
  township: ['staff', 'admin', 'supervisor'],
  county: ['staff', 'admin', 'supervisor'],
  city: ['staff', 'admin', 'supervisor'],
}

export function render() {
  const { node } = ctx
  const err = h('div', { class: 'notice error', role: 'alert', hidden: true, tabindex: '-1' })
  const name = h('input', { type: 'text', id: 'login-name', name: 'username', autocomplete: 'username', required: true, autofocus: true })
  const pw = h('input', { type: 'password', id: 'login-password', name: 'password', autocomplete: 'current-password', required: true })
  const submit = h('button', { class: 'btn big', type: 'submit' }, t('login.submit'))

  const onsubmit = async (e) => {
    e.preventDefault()
    err.hidden = true
    submit.disabled = true
    try {
      const s = await api('POST', '/api/login', { name: name.value.trim(), password: pw.value }, { auth: false })
      await loggedIn(s)
    } catch (x) {
      err.textContent = x instanceof ApiFailure && x.status === 401 ? t('login.wrong') : x.message
      err.hidden = false
      err.focus()
      pw.select()
    } finally {
      submit.disabled = false
    }
  }

  const here = P.levelRank(node.level)
  return h('div', { class: 'login-wrap' },
    h('section', { class: 'login-side', 'aria-labelledby': 'login-app' },
      h('div', { class: 'row' }, h('span', { class: 'brand-mark', 'aria-hidden': 'true' }, '通'), h('span', { class: 'spacer' }), langButton('btn-top')),
      h('h1', { id: 'login-app' }, t('app.full')),
      h('p', { class: 'motto' }, t('login.motto')),
      h('div', { class: 'node-card', dataset: { node: node.code } },
        h('div', { class: 'lv' }, t('login.thisNode')),
        h('div', { class: 'nm' }, node.name),
        h('div', null, t('unit.' + node.level) + ' · ' + levelName(node.level)),
        h('div', { class: 'cd' }, t('login.code') + ' ' + node.code)),
      h('div', { class: 'levels', 'aria-label': t('login.tree') },
        P.LEVELS.map((l, i) => [i ? h('span', { 'aria-hidden': 'true' }, '›') : null,
          h('span', { class: ['lvl', i === here && 'here'], 'aria-current': i === here ? 'true' : null }, levelName(l))])),
      h('div', null,
        h('div', { class: 'lv', style: { marginBottom: '8px', color: '#c8d6f0' } }, t('login.roles')),
        h('div', { class: 'roles' }, ROLES_AT[node.level].map((r) => h('span', { class: 'role' }, roleName(r)))))),
    h('section', { class: 'login-form' },
      h('h2', null, t('login.title')),
      h('p', { class: 'muted' }, t('login.lead', { name: node.name })),
      err,
      h('form', { onsubmit, novalidate: true },
        h('div', { class: 'field' }, h('label', { htmlFor: 'login-name' }, t('login.name')), name),
        h('div', { class: 'field' }, h('label', { htmlFor: 'login-password' }, t('login.password')), pw),
        submit),
      h('div', { class: 'alt' },
        h('p', { class: 'muted' }, t('login.publicLead')),
        h('a', { class: 'btn secondary', href: '#/progress' }, t('progress.title')), ' ',
        h('a', { class: 'btn secondary', href: '#/prereview', dataset: { nav: 'prereview' } }, t('pr.title')))))
}
