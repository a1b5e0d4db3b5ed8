/** Formatting shared by the pages: dates in China time, rates, names of statuses and levels. */
import { h } from './dom.js'
import { lang, t } from './i18n.js'
import { ctx, P, today } from './ctx.js'
import { unitNames } from './api.js'

const tz = 'Asia/Shanghai'

/** "2026-11-23 14:05" in China time. */
export function fmtTime(iso) {
  if (!iso) return '—'
  const d = new Date(iso)
  const parts = Object.fromEntries(new Intl.DateTimeFormat('en-CA', { timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hour12: false })
    .formatToParts(d).map((p) => [p.type, p.value]))
  return `${parts.year}-${parts.month}-${parts.day} ${parts.hour === '24' ? '00' : parts.hour}:${parts.minute}`
}

/** "11-23 14:05" (short, for timelines and the banner). */
export function fmtShort(iso) {
  if (!iso) return '—'
  const full = fmtTime(iso)
  return full.slice(0, 10) === today() ? full.slice(11) : full.slice(5)
}

/** "2026-11-23 (周一)" */
export function fmtDay(date) {
  if (!date) return '—'
  const dow = new Date(date + 'T00:00:00Z').getUTCDay()
  return `${date} (${t('dow.' + dow)})`
}

/** 0.9753 → "97.5%"; null → "—" (nothing to divide). */
export function pct(rate) {
  return rate === null || rate === undefined ? '—' : `${(Math.round(rate * 1000) / 10).toFixed(1)}%`
}

/** The status, in the words of the item's kind of result when given (protocol/outcomes.ts: 已出具, 已办结 …). */
export const statusName = (s, resultKind) => (resultKind ? P.outcomeWords(s, resultKind, lang()) : (lang() === 'zh' ? P.STATUS_NAMES_ZH[s] : t('status.' + s)) ?? s)
export const levelName = (l) => (lang() === 'zh' ? P.LEVEL_NAMES_ZH[l] : t('level.' + l)) ?? l
export const roleName = (r) => (lang() === 'zh' ? P.ROLE_NAMES_ZH[r] : t('role.' + r)) ?? r
/** 1 (非常不满意) … 5 (非常满意). */
export const ratingName = (n) => (lang() === 'zh' ? P.RATING_NAMES_ZH[n - 1] : t('rating.' + n)) ?? String(n)
export const eventName = (type) => t('event.' + type)

export function statusPill(status, big = false, resultKind) {
  return h('span', { class: ['pill', 's-' + status, big && 'big'], dataset: { status } }, statusName(status, resultKind))
}

export function levelTag(level) {
  return h('span', { class: ['tag', 'lv-' + level] }, t('levelShort.' + level))
}

export function kindTag(item) {
  return item.kind === 'instant'
    ? h('span', { class: 'tag instant' }, t('kind.instant'))
    : h('span', { class: 'tag promised' }, t('kind.promisedDays', { n: item.promisedDays }))
}

/**
 * Where a case stands against its due date, as the statistics count it: overdue (red) when open
 * past its due date, soon (yellow) when due today or the next working day. A case in correction
 * has its clock stopped and is neither.
 */
export function dueState(c) {
  if (!c.dueDate) return 'none'
  if (c.status !== 'submitted' && c.status !== 'accepted') return 'none'
  const d = today()
  if (c.dueDate < d) return 'overdue'
  if (c.dueDate <= ctx.days.add(d, 1)) return 'soon'
  return 'ok'
}

/** The due date as a coloured chip with words, not colour alone; `labelled` says "due" too (outside a due-date column). */
export function dueChip(c, labelled = false) {
  const state = dueState(c)
  if (!c.dueDate) return h('span', { class: 'due none' }, c.status === 'submitted' ? t('due.awaitAccept') : '—')
  let words = labelled ? t('due.on', { date: c.dueDate }) : c.dueDate
  if (state === 'overdue') words = t('due.overdue', { date: c.dueDate, n: Math.max(1, ctx.days.between(c.dueDate, today())) })
  else if (state === 'soon') words = c.dueDate === today() ? t('due.today', { date: c.dueDate }) : t('due.tomorrow', { date: c.dueDate })
  return h('span', { class: ['due', state], dataset: { due: state } }, words)
}

/** A name or the code for a unit in the tree: this node by name, others by level and code. */
export function unitLabel(code) {
  if (!code) return '—'
  if (code === ctx.node.code) return ctx.node.name
  if (unitNames.has(code)) return unitNames.get(code)
  const l = P.levelOfCode(code)
  return typeof l === 'string' ? `${levelName(l)} ${code}` : code
}

/**
 * The person an event or an application names (its `user` / `createdBy`): the display name
 * recorded with the login (李秀兰（agent2）→ 李秀兰), or the login where none was.
 */
export function personName(user) {
  if (!user) return '—'
  const a = P.parseActor(user)
  return a.displayName ?? a.login
}

/** 511302198001011235 → 511302********123X: enough to recognise, not to copy. */
export function maskId(s) {
  if (!s || s.length < 8) return s
  return s.slice(0, 6) + '*'.repeat(s.length - 10) + s.slice(-4)
}

export function maskPhone(s) {
  const d = (s ?? '').replace(/\s/g, '')
  return d.length >= 7 ? d.slice(0, 3) + '****' + d.slice(-4) : d
}
