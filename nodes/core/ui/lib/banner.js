/**
 * The banner at the top of every page: is this node linked to its parent, when did it last
 * sync, how many changes wait to go up. Read from GET /healthz, whose `sync` summary the tree
 * adds; without one it says "not connected to the parent". Polled every few seconds, and at
 * once when the browser regains its own network.
 */
import { h, mount } from './dom.js'
import { t } from './i18n.js'
import { fmtShort, unitLabel } from './format.js'
import { waitingUpText } from './attach.js'

const EVERY_MS = 5000
let timer = null
let last = null
let lastError = false

export function startBanner() {
  if (timer) return
  const tick = async () => {
    try {
      const res = await fetch('/healthz', { cache: 'no-store' })
      last = await res.json()
      lastError = false
    } catch {
      lastError = true
    }
    render()
  }
  void tick()
  timer = setInterval(tick, EVERY_MS)
  addEventListener('online', tick)
  addEventListener('offline', tick)
}

/** Re-renders with the last figures (after a language switch). */
export function render() {
  const el = document.getElementById('banner')
  if (!el) return
  const s = describe()
  el.className = `banner no-print ${s.kind}`
  el.dataset.state = s.kind
  mount(el, h('div', { class: 'banner-inner' },
    h('span', { class: 'state' }, h('span', { class: 'dot', 'aria-hidden': 'true' }), s.state),
    s.meta.map((m) => h('span', { class: ['meta', m.cls], dataset: m.dataset }, m.text))))
}

function describe() {
  if (lastError || !last) {
    return lastError
      ? { kind: 'down', state: t('banner.down'), meta: [{ text: t('banner.downHint') }] }
      : { kind: 'root', state: t('banner.checking'), meta: [] }
  }
  const sync = last.sync
  const parent = sync?.parent
  const children = sync?.children
  const meta = []
  if (children?.enrolled) meta.push({ text: t('banner.children', { n: children.connected, of: children.enrolled }) })
  if (!last.parent) {
    return { kind: 'root', state: t('banner.root', { name: last.name }), meta }
  }
  const parentName = unitLabel(last.parent)
  if (!parent) {
    return { kind: 'offline', state: t('banner.noParent'), meta: [{ text: t('banner.noParentHint', { parent: parentName }) }, ...meta] }
  }
  meta.unshift({ text: t('banner.lastSync', { at: parent.lastSyncAt ? fmtShort(parent.lastSyncAt) : t('banner.never') }) })
  // Cases, not updates: how many applications and actions have not reached the parent yet.
  const n = parent.waitingCases ?? parent.waitingUp ?? 0
  // waitingMore: more is stored past the cursor than the node counts on a poll: at least n.
  // 附件: bytes of scans not yet sent up (they travel after the cases).
  const files = waitingUpText(parent)
  if (files) meta.push({ text: files, cls: 'waiting', dataset: { waitingAttachments: String(parent.attachmentBytesUp) } })
  meta.unshift({ text: t(parent.waitingCases === undefined ? 'banner.waiting' : 'banner.waitingCases', { n: parent.waitingMore ? `${n}+` : n }), cls: n || parent.waitingMore ? 'waiting' : '', dataset: { waitingCases: String(n) } })
  if (parent.connected) return { kind: 'online', state: t('banner.online', { parent: parentName }), meta }
  return { kind: 'offline', state: t('banner.offline'), meta: [{ text: t('banner.offlineHint') }, ...meta] }
}

/** The last /healthz answer (the dashboard reads children figures from it). */
export const lastHealth = () => last
