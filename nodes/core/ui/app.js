/**
 * The app shell: finds out which node this is, who is logged in, and shows the page the hash
 * names (#/items, #/case/<id> …). Pages are modules with `render(params) → Node`; the shell
 * puts the result in <main>, sets the title and moves focus to the page's heading, so keyboard
 * and screen-reader users land where the new page starts.
 */
import { api, session, whenLoggedOut } from './lib/api.js'
import { render as renderBanner, startBanner } from './lib/banner.js'
import { ctx, loadCalendars } from './lib/ctx.js'
import { loadUnits } from './lib/units.js'
import { h, mount } from './lib/dom.js'
import { lang, setLang, t } from './lib/i18n.js'
import { levelName, roleName } from './lib/format.js'
import { showNoticeCount } from './lib/notice-badge.js'

/** Routes: pattern → page module, who may see it. `public` pages need no login. */
const ROUTES = [
  { path: 'login', page: () => import('./pages/login.js'), public: true, bare: true },
  { path: 'progress', page: () => import('./pages/progress.js'), public: true, bare: true, applicant: true },
  { path: 'prereview', page: () => import('./pages/prereview.js'), public: true, bare: true, applicant: true },
  { path: 'prereviews', page: () => import('./pages/prereviews.js'), nav: 'prereviews' },
  { path: 'prereviews/:no', page: () => import('./pages/prereview-answer.js'), nav: 'prereviews' },
  { path: 'items', page: () => import('./pages/items.js'), nav: 'items' },
  { path: 'items/:code', page: () => import('./pages/guide.js'), nav: 'items' },
  { path: 'intake/:code', page: () => import('./pages/intake.js'), nav: 'items' },
  { path: 'receipt/:id', page: () => import('./pages/receipt.js'), nav: 'cases' },
  { path: 'cases', page: () => import('./pages/cases.js'), nav: 'cases' },
  { path: 'queue', page: () => import('./pages/queue.js'), nav: 'queue' },
  { path: 'case/:id', page: () => import('./pages/case.js'), nav: 'cases' },
  { path: 'dashboard', page: () => import('./pages/dashboard.js'), nav: 'dashboard' },
  { path: 'catalogue', page: () => import('./pages/catalogue.js'), nav: 'catalogue' },
  { path: 'catalogue/new', page: () => import('./pages/item-edit.js'), nav: 'catalogue' },
  { path: 'catalogue/edit/:code', page: () => import('./pages/item-edit.js'), nav: 'catalogue' },
  { path: 'calendar', page: () => import('./pages/calendar.js'), nav: 'calendar' },
  { path: 'users', page: () => import('./pages/users.js'), nav: 'users' },
  { path: 'password', page: () => import('./pages/password.js') },
  { path: 'province', page: () => import('./pages/province.js'), nav: 'province' },
  { path: 'supervision', page: () => import('./pages/supervision.js'), nav: 'supervision' },
  { path: 'notices', page: () => import('./pages/notices.js'), nav: 'notices' },
]

/** The navigation each role sees, in order; the first is its home page. */
function navFor(role, level) {
  const publishes = level === 'city' || level === 'county'
  const byRole = {
    agent: ['items', 'prereviews', 'cases', 'dashboard'],
    staff: ['queue', 'prereviews', 'items', 'cases', 'dashboard'],
    admin: ['dashboard', ...(publishes ? ['catalogue'] : []), ...(publishes ? ['calendar'] : []), 'users', 'cases'],
    supervisor: ['dashboard', 'queue', 'cases'],
  }
  // 电子监察 and 督办: supervisors watch the subtree and send notices; units answer them.
  if (role === 'supervisor') byRole.supervisor.splice(1, 0, 'supervision', 'notices')
  else byRole[role]?.push('notices')
  // 省平台对接: at the node that pushes, its administrators and supervisors see what the province has.
  if ((role === 'admin' || role === 'supervisor') && ctx.node?.province) byRole[role].push('province')
  return byRole[role] ?? ['cases']
}

function match(hash) {
  const path = hash.replace(/^#\/?/, '').replace(/\?.*$/, '')
  const query = new URLSearchParams(hash.includes('?') ? hash.slice(hash.indexOf('?') + 1) : '')
  const parts = path.split('/').filter(Boolean)
  for (const r of ROUTES) {
    const want = r.path.split('/')
    if (want.length !== parts.length) continue
    const params = {}
    if (want.every((w, i) => (w.startsWith(':') ? ((params[w.slice(1)] = decodeURIComponent(parts[i])), true) : w === parts[i]))) {
      return { route: r, params, query }
    }
  }
  return null
}

/**
 * Keeps a page's filters in the address (so Back and reload return to them) without a new
 * history entry — but only while that page is still the one shown: a slow page must not
 * pull the address back after the user has moved on.
 */
export function remember(path, query = '') {
  if (location.hash.replace(/\?.*$/, '') === '#' + path) history.replaceState(null, '', '#' + path + query)
}

export function go(hash) {
  if (location.hash === hash) void show()
  else location.hash = hash
}

let rendering = 0
let leaving = []

/** Runs `fn` when the user leaves the current page (closing a live connection, a timer). */
export function onLeave(fn) {
  leaving.push(fn)
}

async function show() {
  const seq = ++rendering
  for (const fn of leaving.splice(0)) {
    try {
      fn()
    } catch (e) {
      console.error('leaving the page failed:', e)
    }
  }
  const main = document.getElementById('main')
  const m = match(location.hash || '#/')
  if (!m) {
    go(ctx.user ? '#/' + navFor(ctx.user.role, ctx.node.level)[0] : '#/login')
    return
  }
  if (!m.route.public && !ctx.user) {
    sessionStorage.setItem('tongban.after', location.hash)
    go('#/login')
    return
  }
  renderHeader(m.route)
  // The link banner is for staff: a page for applicants (`applicant: true`) shows none.
  document.getElementById('banner').hidden = !!m.route.applicant
  main.setAttribute('aria-busy', 'true')
  let content
  try {
    const mod = await m.route.page()
    content = await mod.render(m.params, m.query)
  } catch (e) {
    content = errorPage(e)
  }
  if (seq !== rendering) return // a newer navigation won
  main.removeAttribute('aria-busy')
  mount(main, content)
  const h1 = main.querySelector('h1')
  document.title = `${h1?.textContent ?? ''} · ${t('app.name')} · ${ctx.node.name}`
  if (!main.querySelector('[autofocus]') && h1) {
    h1.tabIndex = -1
    h1.focus({ preventScroll: true })
  }
  main.querySelector('[autofocus]')?.focus()
  window.scrollTo(0, 0)
}

function errorPage(e) {
  return h('div', { class: 'card' },
    h('h1', null, t('err.pageTitle')),
    h('div', { class: 'notice error', role: 'alert' }, h('p', null, e?.message ?? String(e))),
    h('a', { class: 'btn secondary', href: '#/' }, t('nav.home')))
}

function renderHeader(route) {
  const top = document.getElementById('top')
  if (route.bare || !ctx.user) {
    top.hidden = true
    mount(top)
    return
  }
  top.hidden = false
  const { node, user } = ctx
  const nav = navFor(user.role, node.level)
  mount(top,
    h('div', { class: 'topbar' },
      h('a', { class: 'brand', href: '#/' + nav[0] },
        h('span', { class: 'brand-mark', 'aria-hidden': 'true' }, '通'),
        h('span', { class: 'brand-text' },
          h('span', { class: 'brand-name' }, node.name + ' · ' + t('unit.' + node.level)),
          h('span', { class: 'brand-sub' }, `${t('app.full')} · ${levelName(node.level)} · ${node.code}`))),
      h('div', { class: 'userbox' },
        h('span', { class: 'who', title: user.name }, user.displayName || user.name, h('small', null, roleName(user.role))),
        langButton('btn-top'),
        h('a', { class: 'btn-top', href: '#/password', dataset: { nav: 'password' } }, t('nav.password')),
        h('button', { class: 'btn-top', type: 'button', onclick: logout, dataset: { action: 'logout' } }, t('nav.logout')))),
    h('nav', { class: 'nav', 'aria-label': t('nav.label') },
      nav.map((key) => h('a', { href: '#/' + key, 'aria-current': route.nav === key ? 'page' : null, dataset: { nav: key } },
        t(key === 'queue' && user.role === 'supervisor' ? 'nav.warnings' : 'nav.' + key)))))
  void showNoticeCount(top, user.role)
}

/** The 中文 / English switch. */
export function langButton(cls) {
  return h('button', {
    class: [cls, 'lang-switch'], type: 'button', lang: lang() === 'zh' ? 'en' : 'zh', dataset: { lang: 'switch' },
    onclick: () => {
      setLang(lang() === 'zh' ? 'en' : 'zh')
      renderBanner()
      void show()
    },
  }, lang() === 'zh' ? 'English' : '中文')
}

/** Ends the session at the node too (the token stops working everywhere), then here. */
async function logout() {
  if (session.get()?.token) await api('POST', '/api/logout').catch(() => {}) // offline or already ended: nothing to end
  session.clear()
  ctx.user = null
  go('#/login')
}

/** After a successful login (the login page calls this). */
export async function loggedIn(s) {
  session.set(s)
  ctx.user = { name: s.name, role: s.role, displayName: s.displayName ?? null, department: s.department ?? null }
  await loadCalendars().catch(() => {})
  void loadUnits().then(renderBanner) // names of the units of the tree, for every page (never throws)
  const after = sessionStorage.getItem('tongban.after')
  sessionStorage.removeItem('tongban.after')
  go(after && !after.startsWith('#/login') ? after : '#/' + navFor(s.role, ctx.node.level)[0])
}

async function boot() {
  document.documentElement.lang = lang() === 'zh' ? 'zh-CN' : 'en'
  document.querySelector('[data-skip]').textContent = t('app.skip')
  try {
    ctx.node = await (await fetch('/healthz', { cache: 'no-store' })).json()
  } catch {
    mount(document.getElementById('main'), h('div', { class: 'notice error', role: 'alert' }, t('banner.down')))
    return
  }
  startBanner()
  whenLoggedOut(() => {
    ctx.user = null
    if (!match(location.hash)?.route.public) go('#/login')
  })
  const s = session.get()
  if (s?.token) {
    try {
      ctx.user = await api('GET', '/api/users/me')
      await loadCalendars()
      void loadUnits().then(renderBanner)
    } catch {
      ctx.user = null
    }
  }
  addEventListener('hashchange', () => void show())
  await show()
}

void boot()
