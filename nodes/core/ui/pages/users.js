/**
 * Users of this node (administrators): who may log in here and in which role; disable and
 * enable an account (its sessions end at once), and reset a forgotten password. A staff user's
 * department (部门) decides whose opinions they give on 并联审批 items; only here is it set.
 */
import { api } from '../lib/api.js'
import { ctx, P } from '../lib/ctx.js'
import { confirmDialog, h, mount, toast } from '../lib/dom.js'
import { t } from '../lib/i18n.js'
import { roleName } from '../lib/format.js'

const path = (name) => `/api/users/${encodeURIComponent(name)}`

export async function render() {
  if (ctx.user.role !== 'admin') throw new Error(t('err.adminOnly'))
  const list = h('div')
  const who = h('select', { id: 'r-name' })
  let byName = new Map()
  const pname = h('input', { type: 'text', id: 'p-display', autocomplete: 'off', maxLength: P.DISPLAY_NAME_MAX })
  const pphone = h('input', { type: 'tel', id: 'p-phone', autocomplete: 'off', inputmode: 'tel' })
  const pdept = h('input', { type: 'text', id: 'p-department', autocomplete: 'off', maxLength: 40 })
  const fillProfile = () => {
    const u = byName.get(who.value)
    pname.value = u?.displayName ?? ''
    pphone.value = u?.phone ?? ''
    pdept.value = u?.department ?? ''
  }
  who.addEventListener('change', fillProfile)
  const draw = async () => {
    const { users } = await api('GET', '/api/users')
    mount(list, h('div', { class: 'table-wrap' }, h('table', { class: 'table' },
      h('thead', null, h('tr', null,
        h('th', { scope: 'col' }, t('users.name')), h('th', { scope: 'col' }, t('users.displayName')), h('th', { scope: 'col' }, t('users.phone')), h('th', { scope: 'col' }, t('users.role')),
        h('th', { scope: 'col' }, t('users.department')), h('th', { scope: 'col' }, t('users.status')), h('th', { scope: 'col' }, t('users.actions')))),
      h('tbody', null, users.map((u) => h('tr', { dataset: { user: u.name } },
        h('td', null, u.name, u.name === ctx.user.name ? t('users.you') : ''),
        h('td', { dataset: { field: 'display-name' } }, u.displayName ?? '—'),
        h('td', { class: 'mono' }, u.phone ?? '—'),
        h('td', null, roleName(u.role)),
        h('td', { dataset: { field: 'department' } }, u.department ?? t('users.noDepartment')),
        h('td', null, h('span', { class: ['pill', u.disabled ? 's-denied' : 's-approved'] }, t(u.disabled ? 'users.disabled' : 'users.enabled'))),
        h('td', null, u.name === ctx.user.name ? null : h('button', {
          class: ['btn', 'small', 'secondary'], type: 'button', dataset: { action: u.disabled ? 'enable' : 'disable' },
          'aria-label': `${t(u.disabled ? 'users.enable' : 'users.disable')} ${u.name}`,
          onclick: () => void toggle(u),
        }, t(u.disabled ? 'users.enable' : 'users.disable')))))))))
    const keep = who.value
    mount(who, users.map((u) => h('option', { value: u.name }, `${u.displayName ? `${u.displayName}（${u.name}）` : u.name} · ${roleName(u.role)}`)))
    if (keep) who.value = keep
    byName = new Map(users.map((u) => [u.name, u]))
    fillProfile()
  }
  const toggle = async (u) => {
    try {
      if (!u.disabled) {
        const ok = await confirmDialog({ title: t('users.disableTitle', { name: u.name }), body: t('users.disableBody', { name: u.name }), ok: t('users.disable'), cancel: t('cancel'), danger: true })
        if (!ok) return
      }
      await api('POST', `${path(u.name)}/${u.disabled ? 'enable' : 'disable'}`)
      toast(t(u.disabled ? 'users.enabledDone' : 'users.disabledDone', { name: u.name }))
      await draw()
    } catch (x) {
      toast(x.message, 'error')
    }
  }

  const name = h('input', { type: 'text', id: 'u-name', autocomplete: 'off' })
  const role = h('select', { id: 'u-role' }, P.ROLES.map((r) => h('option', { value: r }, roleName(r))))
  const pw = h('input', { type: 'password', id: 'u-pw', autocomplete: 'new-password' })
  const display = h('input', { type: 'text', id: 'u-display', autocomplete: 'off', maxLength: P.DISPLAY_NAME_MAX })
  const phone = h('input', { type: 'tel', id: 'u-phone', autocomplete: 'off', inputmode: 'tel' })
  const dept = h('input', { type: 'text', id: 'u-department', autocomplete: 'off', maxLength: 40 })
  const err = h('div', { class: 'notice error', role: 'alert', hidden: true })
  const onsubmit = async (e) => {
    e.preventDefault()
    err.hidden = true
    try {
      const u = await api('POST', '/api/users', { name: name.value.trim(), role: role.value, password: pw.value, displayName: display.value.trim() || null, phone: phone.value.trim() || null, department: dept.value.trim() || null })
      toast(t('users.added', { name: u.name }))
      for (const i of [name, pw, display, phone, dept]) i.value = ''
      await draw()
    } catch (x) {
      err.textContent = x.message
      err.hidden = false
    }
  }

  const rpw = h('input', { type: 'password', id: 'r-pw', autocomplete: 'new-password' })
  const rerr = h('div', { class: 'notice error', role: 'alert', hidden: true })
  const onreset = async (e) => {
    e.preventDefault()
    rerr.hidden = true
    try {
      const u = await api('PUT', `${path(who.value)}/password`, { password: rpw.value })
      toast(t('users.resetDone', { name: u.name }))
      rpw.value = ''
      await draw()
    } catch (x) {
      rerr.textContent = x.message
      rerr.hidden = false
    }
  }

  const perr = h('div', { class: 'notice error', role: 'alert', hidden: true })
  const onprofile = async (e) => {
    e.preventDefault()
    perr.hidden = true
    try {
      const u = await api('PATCH', path(who.value), { displayName: pname.value.trim() || null, phone: pphone.value.trim() || null, department: pdept.value.trim() })
      toast(t('users.profileDone', { name: u.name }))
      await draw()
    } catch (x) {
      perr.textContent = x.message
      perr.hidden = false
    }
  }

  await draw()
  return h('div', null,
    h('div', { class: 'page-head' }, h('div', null, h('h1', null, t('users.title')), h('p', { class: 'sub' }, t('users.lead', { name: ctx.node.name })))),
    h('div', { class: 'grid-2' },
      h('section', { class: 'card' }, h('h2', null, t('users.list')), list),
      h('div', null,
        h('section', { class: 'card' }, h('h2', null, t('users.add')), err,
          h('form', { onsubmit, novalidate: true },
            h('div', { class: 'field' }, h('label', { htmlFor: 'u-name' }, t('users.name')), name),
            h('div', { class: 'field' }, h('label', { htmlFor: 'u-role' }, t('users.role')), role),
            h('div', { class: 'field' }, h('label', { htmlFor: 'u-display' }, t('users.displayName')), display, h('span', { class: 'hint' }, t('users.displayHint'))),
            h('div', { class: 'field' }, h('label', { htmlFor: 'u-phone' }, t('users.phone')), phone, h('span', { class: 'hint' }, t('users.phoneHint'))),
            h('div', { class: 'field' }, h('label', { htmlFor: 'u-department' }, t('users.department')), dept, h('span', { class: 'hint' }, t('users.departmentHint'))),
            h('div', { class: 'field' }, h('label', { htmlFor: 'u-pw' }, t('users.password')), pw, h('span', { class: 'hint' }, t('users.pwHint'))),
            h('button', { class: 'btn', type: 'submit' }, t('users.submit')))),
        h('section', { class: 'card', style: { marginTop: '16px' } }, h('h2', null, t('users.profile')),
          h('p', { class: 'muted' }, t('users.profileLead')), perr,
          h('form', { onsubmit: onprofile, novalidate: true, dataset: { form: 'profile' } },
            h('div', { class: 'field' }, h('label', { htmlFor: 'p-display' }, t('users.displayName')), pname),
            h('div', { class: 'field' }, h('label', { htmlFor: 'p-phone' }, t('users.phone')), pphone),
            h('div', { class: 'field' }, h('label', { htmlFor: 'p-department' }, t('users.department')), pdept, h('span', { class: 'hint' }, t('users.departmentHint'))),
            h('button', { class: 'btn', type: 'submit' }, t('users.profileSubmit')))),
        h('section', { class: 'card', style: { marginTop: '16px' } }, h('h2', null, t('users.reset')),
          h('p', { class: 'muted' }, t('users.resetLead')), rerr,
          h('form', { onsubmit: onreset, novalidate: true, dataset: { form: 'reset' } },
            h('div', { class: 'field' }, h('label', { htmlFor: 'r-name' }, t('users.resetWho')), who),
            h('div', { class: 'field' }, h('label', { htmlFor: 'r-pw' }, t('users.resetPw')), rpw, h('span', { class: 'hint' }, t('users.pwHint'))),
            h('button', { class: 'btn', type: 'submit' }, t('users.resetSubmit')))))))
}
