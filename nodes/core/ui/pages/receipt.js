/**
 * The acceptance receipt (受理回执), a document the villager takes home: case number, item,
 * where it is decided, the due date, what is still owed under 容缺受理 (and the commitment the
 * applicant signs), and how to check progress. Printed with the print styles
 * (A4, no app around it).
 */
import { api } from '../lib/api.js'
import { ctx, itemOf, levelOf, loadItems, P, today } from '../lib/ctx.js'
import { h } from '../lib/dom.js'
import { t } from '../lib/i18n.js'
import { fmtDay, fmtTime, levelName, maskId, maskPhone, personName, unitLabel } from '../lib/format.js'
import { codesOfCase, loadUnits } from '../lib/units.js'

export async function render({ id }) {
  const c = await api('GET', '/api/cases/' + encodeURIComponent(id))
  // The agent who took it in, as a user of this node: their phone goes on the receipt.
  const agentLogin = P.parseActor(c.createdBy).login
  const [, , card] = await Promise.all([loadItems([c.itemCode]), loadUnits({ need: codesOfCase(c) }),
    c.originCode === ctx.node.code ? api('GET', `/api/users/${encodeURIComponent(agentLogin)}/card`).catch(() => null) : null])
  const item = itemOf(c.itemCode)
  // Who decides now: a transfer (转办) moves it from the unit chosen at intake.
  const handler = c.currentHandlerCode ?? c.handlerCode
  const here = handler === ctx.node.code
  // 异地件: decided by a unit that is not this window's own line (代收代办).
  const elsewhere = !here && !P.isInSubtree(c.originCode, handler)
  const level = levelName(item?.level ?? levelOf(handler) ?? 'township')
  const taken = c.createdAt
  const due = c.dueDate
    ? fmtDay(c.dueDate)
    : t('receipt.dueAbove', { n: c.promisedDays, date: ctx.days.add(today(), c.promisedDays) })
  const lookupUrl = lookupAddress()
  const received = c.materials.length ? h('ul', { class: 'mats' }, c.materials.map((m) => h('li', null, m))) : t('receipt.none')
  const decidedBy = `${here ? ctx.node.name : unitLabel(handler)} · ${item?.department ?? ''}`

  return h('div', null,
    h('div', { class: 'receipt-actions no-print' },
      h('button', { class: 'btn', type: 'button', onclick: () => print(), dataset: { action: 'print' }, autofocus: true }, t('receipt.print')),
      h('a', { class: 'btn secondary', href: '#/case/' + encodeURIComponent(c.id) }, t('receipt.toCase')),
      h('a', { class: 'btn secondary', href: '#/items' }, t('receipt.next'))),
    h('article', { class: 'receipt', 'aria-labelledby': 'rc-h' },
      h('div', { class: 'issuer' }, ctx.node.name + t('unit.' + ctx.node.level)),
      h('h1', { id: 'rc-h' }, t('receipt.title')),
      h('div', { class: 'no' }, h('span', { class: 'muted' }, t('case.number') + '：'), h('span', { class: 'n', dataset: { field: 'case-id' } }, c.id)),
      h('table', null, h('tbody', null,
        row(t('receipt.item'), item?.name ?? c.itemCode, 'item'),
        row(t('receipt.applicant'), c.applicant.name, 'applicant'),
        row(t('receipt.id'), maskId(c.applicant.idNumber)),
        row(t('receipt.phone'), maskPhone(c.applicant.phone)),
        row(t('receipt.takenAt'), fmtTime(taken)),
        row(t('receipt.received'), received),
        // 容缺受理: what is still owed, by when, and the commitment the applicant signs below.
        c.deferred ? row(t('receipt.deferred'), [t('receipt.deferredText', { list: c.deferred.materials.join('、'), date: fmtDay(c.deferred.deadline) }), h('br'),
          h('span', { class: 'small' }, t('receipt.commitment') + '：' + c.deferred.commitment)], 'deferred') : null,
        row(t('receipt.decidedBy'), [decidedBy, h('br'), h('span', { class: 'muted small' }, here ? t('receipt.decidedHere') : elsewhere ? t('receipt.decidedElsewhere', { level, unit: unitLabel(handler) }) : t('receipt.decidedAbove', { level }))], 'decided-by'),
        row(t('receipt.limit'), c.kind === 'instant' ? t('kind.instant') : t('receipt.limitN', { n: c.promisedDays })),
        row(t('receipt.due'), h('strong', null, due), 'due'),
        row(t('receipt.pickup'), t('receipt.pickupAt', { name: ctx.node.name })))),
      h('div', { class: 'lookup' },
        h('div', null, h('strong', null, t('receipt.howTitle'))),
        h('div', null, t('receipt.how1'), h('strong', null, c.id), t('receipt.how2')),
        lookupUrl ? h('div', null, t('receipt.how3'), h('strong', { dataset: { field: 'lookup-url' } }, lookupUrl)) : null,
        h('div', { dataset: { field: 'ask' } }, card?.phone ? t('receipt.how4Phone', { name: ctx.node.name, phone: card.phone }) : t('receipt.how4', { name: ctx.node.name }))),
      h('div', { class: 'sign' },
        h('div', null, h('div', { dataset: { field: 'agent' } }, t('receipt.agent') + '：' + personName(c.createdBy), card?.phone ? `（${t('receipt.tel')} ${card.phone}）` : ''), h('div', { class: 'line' }, t('receipt.date') + '：' + fmtTime(taken).slice(0, 10))),
        h('div', null, h('div', null, t('receipt.signApplicant') + '：'), h('div', { class: 'blank' })),
        h('div', { class: 'stamp' }, t('receipt.seal')))))
}

/**
 * Where an applicant looks the case up: the node's public address (`tongban start --public-url`),
 * else the address this page was opened at if others can reach it — never a loopback address,
 * which would mean nothing on a villager's phone.
 */
function lookupAddress() {
  if (ctx.node.publicUrl) return `${ctx.node.publicUrl}/#/progress`
  const host = location.hostname.replace(/^\[|\]$/g, '')
  const loopback = host === 'localhost' || host.endsWith('.localhost') || host.startsWith('127.') || host === '::1'
  return loopback ? null : `${location.origin}/#/progress`
}

function row(k, v, field) {
  return h('tr', null, h('th', { scope: 'row' }, k), h('td', { dataset: field ? { field } : undefined }, v))
}
