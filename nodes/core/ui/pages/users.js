/** Users of this node (administrators): who may log in here and in which role. */
import { api } from '../lib/api.js'
import { ctx, P } from '../lib/ctx.js'
import { h, mount, toast } from '../lib/dom.js'
import { t } from '../lib/i18n.js'
import { roleName } from '../lib/format.js'

export async function render() {
  if (ctx.user.role !== 'admin') throw new Error(t('err.adminOnly'))
  const list = h('div')
  const draw = async () => {
    const { users } = await api('GET', '/api/users')
    mount(list, h('div', { class: 'table-wrap' }, h('table', { class: 'table' },
      h('thead', null, h('tr', null, h('th', { scope: 'col' }, t('users.name')), h('th', { scope: 'col' }, t('users.role')))),
      h('tbody', null, users.map((u) => h('tr', null, h('td', null, u.name), h('td', null, roleName(u.role))))))))
  }
  const name = h('input', { type: 'text', id: 'u-name', autocomplete: 'off' })
  const role = h('select', { id: 'u-role' }, P.ROLES.map((r) => h('option', { value: r }, roleName(r))))
  const pw = h('input', { type: 'password', id: 'u-pw', autocomplete: 'new-password' })
  const err = h('div', { class: 'notice error', role: 'alert', hidden: true })
  const onsubmit = async (e) => {
    e.preventDefault()
    err.hidden = true
    try {
      const u = await api('POST', '/api/users', { name: name.value.trim(), role: role.value, password: pw.value })
      toast(t('users.added', { name: u.name }))
      name.value = ''
      pw.value = ''
      await draw()
    } catch (x) {
      err.textContent = x.message
      err.hidden = false
    }
  }
  await draw()
  return h('div', null,
    h('div', { class: 'page-head' }, h('div', null, h('h1', null, t('users.title')), h('p', { class: 'sub' }, t('users.lead', { name: ctx.node.name })))),
    h('div', { class: 'grid-2' },
      h('section', { class: 'card' }, h('h2', null, t('users.list')), list),
      h('section', { class: 'card' }, h('h2', null, t('users.add')), err,
        h('form', { onsubmit, novalidate: true },
          h('div', { class: 'field' }, h('label', { htmlFor: 'u-name' }, t('users.name')), name),
          h('div', { class: 'field' }, h('label', { htmlFor: 'u-role' }, t('users.role')), role),
          h('div', { class: 'field' }, h('label', { htmlFor: 'u-pw' }, t('users.password')), pw, h('span', { class: 'hint' }, t('users.pwHint'))),
          h('button', { class: 'btn', type: 'submit' }, t('users.submit'))))))
}
