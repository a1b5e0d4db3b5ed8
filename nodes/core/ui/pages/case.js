/**
 * One case: where it stands, its timeline, its materials, and the actions this user may take
 * here — the same state machine and `mayAct` the node enforces, run in the browser on the
 * case the API returned. Two people on one case see each other and each other's changes live.
 */
import { onLeave } from '../app.js'
import { api } from '../lib/api.js'
import { allowedActions, ctx, itemOf, levelOf, loadItems, P } from '../lib/ctx.js'
import { h, mount, toast, confirmDialog } from '../lib/dom.js'
import { t } from '../lib/i18n.js'
import { dueChip, eventName, fmtTime, levelName, maskId, maskPhone, personName, ratingName, roleName, statusName, statusPill, unitLabel } from '../lib/format.js'
import { liveCase } from '../lib/live.js'
import { opinionForm, opinionsBox, opinionWhat, pendingOnTimeline } from '../lib/opinions.js'
import { openRateScreen } from '../lib/rate-screen.js'
import { unitPicker } from '../lib/unit-picker.js'
import { attachmentsCard } from '../lib/attach.js'
import { codesOfCase, loadUnits } from '../lib/units.js'

/** The order actions are offered in, most likely first. */
const ORDER = ['rectified', 'rectification-checked', 'accepted', 'opinion', 'supplied', 'approved', 'delivered', 'rated', 'correction-requested', 'resumed', 'transferred', 'refused', 'denied', 'withdrawn']

/** The unit deciding the case now: a transfer (转办) moves it; `handlerCode` stays the one chosen at intake. */
const handlerNow = (c) => c.currentHandlerCode ?? c.handlerCode

export async function render({ id }) {
  const path = '/api/cases/' + encodeURIComponent(id)
  let c = await api('GET', path)
  await Promise.all([loadItems([c.itemCode]), loadUnits({ need: codesOfCase(c) })])
  const item = itemOf(c.itemCode)
  const root = h('div', { dataset: { case: c.id } })
  const presence = h('div', { class: 'presence', 'aria-live': 'polite', dataset: { presence: '' } })
  const news = h('div', { class: 'notice', hidden: true, role: 'status' })
  let openForm = null
  let live = null
  const reveal = { id: false, phone: false }
  // 附件: made once (it polls while a file is on its way), placed again by each draw.
  const att = attachmentsCard(c, {
    canAdd: P.mayAct('attached', ctx.user.role, ctx.node.code, { originCode: c.originCode, handlerCode: handlerNow(c) }) === null,
    materials: (item?.materials ?? []).map((m) => m.name),
  })
  onLeave(() => att.close())

  const draw = () => {
    mount(root,
      h('div', { class: 'crumbs no-print' }, h('a', { href: '#/cases' }, t('nav.cases')), ' › ', c.id),
      h('section', { class: 'card' },
        h('div', { class: 'case-head' },
          h('div', { class: 'title' },
            h('h1', null, item?.name ?? c.itemCode),
            h('div', { class: 'case-no', dataset: { field: 'case-id' } }, t('case.number') + ' ' + c.id)),
          h('div', { class: 'row' }, statusPill(c.status, true, item?.resultKind), dueChip(c, true))),
        steps(c, item),
        owedNote(c),
        rectNote(c),
        opinionsBox(c),
        presence),
      news,
      h('div', { class: 'grid-2' },
        h('div', null,
          timelineCard(c),
          applicantCard(c, reveal, draw),
          materialsCard(c, item),
          att.el),
        h('div', null,
          actionsCard(c, item, {
            opened: (type) => {
              openForm = type
              live?.acting(type)
            },
            done: (view, type) => {
              c = view
              openForm = null
              live?.acting(null)
              toast(t('case.recorded', { what: eventName(type) }))
              draw()
              root.querySelector('h1')?.focus()
            },
          }),
          detailsCard(c, item))))
  }
  draw()

  // Live: changes made elsewhere (the township approving, a colleague) appear without reloading.
  let left = false
  const refresh = async () => {
    const view = await api('GET', path)
    if (left || JSON.stringify(view.events) === JSON.stringify(c.events)) return
    await loadUnits({ need: codesOfCase(view) }) // a transfer may name a unit not known yet
    const moved = view.status !== c.status
    if (openForm) {
      mount(news, t('case.changedWhileOpen'), ' ', h('button', { class: 'btn small secondary', type: 'button', onclick: () => ((c = view), (openForm = null), draw()) }, t('case.reload')))
      news.hidden = false
      return
    }
    c = view
    draw()
    att.refresh()
    if (moved) toast(t('case.updated', { status: statusName(c.status, item?.resultKind) }))
  }
  let pending = null
  liveCase(c.id, {
    onChange: () => {
      clearTimeout(pending)
      pending = setTimeout(() => void refresh().catch(() => {}), 150)
    },
    onPeers: (peers) => mount(presence, peers.length
      ? [h('span', { class: 'live-dot', 'aria-hidden': 'true' }), t('case.alsoHere'),
        peers.map((p) => h('span', { class: 'who', title: p.name, dataset: { peer: p.name } }, `${p.displayName || p.name}（${roleName(p.role)}）`, p.acting ? ' · ' + t('case.acting', { what: eventName(p.acting) }) : ''))]
      : []),
  }).then((l) => {
    if (left) return l.close()
    live = l
    onLeave(() => l.close())
  }, (e) => console.warn('live view unavailable:', e))
  onLeave(() => {
    left = true
    clearTimeout(pending)
  })
  return root
}

function steps(c, item) {
  const decided = c.completedAt !== null
  const denied = c.events.some((e) => e.type === 'denied')
  const delivered = c.status === 'delivered'
  const kind = item?.resultKind
  const list = [
    { label: t('step.accepted'), done: c.acceptedAt !== null, current: c.status === 'submitted' },
    { label: decided ? statusName(denied ? 'denied' : 'approved', kind) : t('step.decide'), done: decided && !denied, bad: denied, current: c.status === 'accepted' || c.status === 'correction' },
    { label: t('step.delivered'), done: delivered, current: c.status === 'approved' || c.status === 'denied' },
    { label: t('step.rated'), done: c.rating !== null, current: delivered && c.rating === null },
  ]
  if (c.status === 'withdrawn') return h('div', { class: 'notice warn' }, t('case.withdrawnNote'))
  if (c.status === 'refused') {
    const why = c.events.find((e) => e.type === 'refused')
    return h('div', { class: 'notice error', dataset: { refused: '' } }, t('case.refusedNote'), why ? ' ' + t('case.reason') + why.reason : '')
  }
  return h('ol', { class: 'steps', 'aria-label': t('case.progress') }, list.map((s) => h('li', {
    class: [s.done && 'done', s.bad && 'bad', !s.done && !s.bad && s.current && 'current'],
    'aria-current': s.current ? 'step' : null,
  }, s.label)))
}

/** 差评整改: where the rectification a bad rating opened stands. */
function rectNote(c) {
  const r = c.rectification
  if (!r) return null
  const date = r.status === 'closed' ? fmtTime(r.closedAt).slice(0, 10) : r.dueDate
  return h('div', { class: ['notice', r.status !== 'closed' && 'warn'], dataset: { rectification: r.status } },
    h('p', null, t('case.rect.' + r.status, { date })), r.reply ? h('p', { class: 'small' }, t('case.rect.reply') + r.reply) : null)
}

/** 容缺受理: what the case still owes, by when, and the applicant's commitment. */
function owedNote(c) {
  if (!c.deferred) return null
  if (!c.owed?.length) return h('p', { class: 'notice', dataset: { owed: '' } }, t('case.supplied') + c.deferred.materials.join('、'))
  return h('div', { class: 'notice warn', dataset: { owed: c.owed.join('、') } },
    h('p', null, t('case.owedNote', { list: c.owed.join('、'), date: c.deferred.deadline })),
    h('p', { class: 'small' }, t('case.commitment') + c.deferred.commitment))
}

function timelineCard(c) {
  const flagged = new Map(c.flagged.map((f) => [f.eventId, f.reason]))
  const entries = [
    { cls: 'ev-intake', what: t('event.intake'), who: personName(c.createdBy), where: c.originCode, at: c.createdAt, extra: null },
    ...c.events.map((e) => ({
      cls: 'ev-' + e.type, what: e.type === 'transferred' ? t('case.transferredTo', { unit: unitLabel(e.to) }) : e.type === 'opinion' ? opinionWhat(e) : eventName(e.type),
      who: personName(e.user), where: e.author, at: e.at, extra: eventDetail(e), flag: flagged.get(e.id),
    })),
  ]
  return h('section', { class: 'card', 'aria-labelledby': 'tl-h' },
    h('h2', { id: 'tl-h' }, t('case.timeline')),
    h('ol', { class: 'timeline', dataset: { timeline: '' } }, entries.map((e) => h('li', { class: [e.cls, e.flag && 'flagged'] },
      h('div', { class: 'what' }, e.what),
      h('div', { class: 'when' }, `${fmtTime(e.at)} · ${e.who} · ${unitLabel(e.where)}`),
      e.extra ? h('div', { class: 'note' }, e.extra) : null,
      e.flag ? h('div', { class: 'note', style: { color: 'var(--bad)' } }, t('case.flaggedReason', { reason: e.flag })) : null)), pendingOnTimeline(c)))
}

function eventDetail(e) {
  if (e.type === 'rated') return [h('span', { class: 'stars' }, ratingName(e.rating)), e.comment ? ' · ' + e.comment : '']
  if (e.type === 'rectified') return t('case.rect.reply') + e.reply
  if (e.type === 'rectification-checked') return [e.passed ? t('case.checkPassed') : t('case.checkFailed'), e.note ? ' · ' + e.note : '']
  if (e.type === 'attached') return e.material ? `${e.name} · ${e.material}` : e.name
  if (e.type === 'supplied') return [t('case.supplied') + e.materials.join('、'), e.note ? ' · ' + e.note : '']
  if (e.type === 'correction-requested') return [t('case.toCorrect') + e.materials.join('、'), e.note ? ' · ' + e.note : '']
  if (e.type === 'denied' || e.type === 'refused' || e.type === 'transferred' || (e.type === 'opinion' && e.reason)) return t('case.reason') + e.reason
  if (e.type === 'withdrawn') return e.reason ? t('case.reason') + e.reason : null
  return e.note || null
}

function applicantCard(c, reveal, redraw) {
  const toggle = (k) => h('button', { class: 'btn ghost small no-print', type: 'button', 'aria-pressed': String(reveal[k]), onclick: () => ((reveal[k] = !reveal[k]), redraw()) },
    reveal[k] ? t('case.hide') : t('case.show'))
  return h('section', { class: 'card', 'aria-labelledby': 'ap-h' },
    h('h2', { id: 'ap-h' }, t('case.applicant')),
    h('dl', { class: 'kv' },
      h('dt', null, t('intake.name')), h('dd', { dataset: { field: 'applicant' } }, c.applicant.name),
      h('dt', null, t('intake.idType')), h('dd', null, t('idType.' + c.applicant.idType)),
      h('dt', null, t('intake.idNumber')), h('dd', { class: 'row' }, h('span', { class: 'mono' }, reveal.id ? c.applicant.idNumber : maskId(c.applicant.idNumber)), toggle('id')),
      h('dt', null, t('intake.phone')), h('dd', { class: 'row' }, h('span', { class: 'mono' }, reveal.phone ? c.applicant.phone : maskPhone(c.applicant.phone)), toggle('phone'))))
}

function materialsCard(c, item) {
  const got = new Set(c.materials)
  const lastCorrection = [...c.events].reverse().find((e) => e.type === 'correction-requested')
  const fix = new Set(c.status === 'correction' && lastCorrection ? lastCorrection.materials : [])
  const owed = new Set(c.owed ?? [])
  const supplied = new Set(c.events.filter((e) => e.type === 'supplied').flatMap((e) => e.materials))
  const names = item ? item.materials.map((m) => m.name) : c.materials
  return h('section', { class: 'card', 'aria-labelledby': 'mt-h' },
    h('h2', { id: 'mt-h' }, t('case.materials')),
    h('ul', { class: 'mat-status' }, names.map((n) => {
      const cls = fix.has(n) ? 'fix' : owed.has(n) ? 'owed' : got.has(n) || supplied.has(n) ? 'got' : 'not'
      return h('li', { class: cls },
        h('span', { class: 'mk', 'aria-hidden': 'true' }, cls === 'got' ? '✓' : cls === 'fix' || cls === 'owed' ? '!' : '–'),
        h('span', { class: 'spacer' }, n),
        h('span', { class: 'small muted' }, t('case.mat.' + cls)))
    })))
}

function detailsCard(c, item) {
  return h('section', { class: 'card', 'aria-labelledby': 'dt-h' },
    h('h2', { id: 'dt-h' }, t('case.details')),
    h('dl', { class: 'kv' },
      h('dt', null, t('case.item')), h('dd', null, `${item?.name ?? ''} (${c.itemCode} v${c.itemVersion})`),
      h('dt', null, t('guide.promised')), h('dd', null, c.kind === 'instant' ? t('kind.instant') : t('days', { n: c.promisedDays })),
      h('dt', null, t('case.takenIn')), h('dd', null, `${unitLabel(c.originCode)} · ${fmtTime(c.createdAt)}`),
      h('dt', null, t('case.decidedAt')), h('dd', { dataset: { field: 'handler' } }, unitLabel(handlerNow(c)), transferredFrom(c)),
      h('dt', null, t('case.route')), h('dd', { dataset: { field: 'route' } }, P.casePathOf({ originCode: c.originCode, handlers: c.handlers ?? [c.handlerCode] }).map(unitLabel).join(' → ')),
      h('dt', null, t('case.acceptedAt')), h('dd', null, fmtTime(c.acceptedAt)),
      h('dt', null, t('case.completedAt')), h('dd', null, fmtTime(c.completedAt)),
      h('dt', null, t('case.dueDate')), h('dd', null, c.dueDate ?? '—'),
      h('dt', null, t('case.rating')), h('dd', null, c.rating ? ratingName(c.rating) : '—')),
    h('div', { class: 'row no-print', style: { marginTop: '16px' } },
      h('a', { class: 'btn secondary small', href: '#/receipt/' + encodeURIComponent(c.id) }, t('case.receipt'))))
}

/** "（由 高坪区 转办）" after the handler's name when a transfer brought the case there. */
function transferredFrom(c) {
  const hs = c.handlers ?? []
  return hs.length > 1 ? t('case.transferredFrom', { from: unitLabel(hs[hs.length - 2]) }) : ''
}

/** The actions this user may take here, each opening a short form. */
function actionsCard(c, item, hooks) {
  const types = allowedActions(c).sort((a, b) => ORDER.indexOf(a) - ORDER.indexOf(b))
  const area = h('div', { class: 'action-list' })
  const card = h('section', { class: 'card', 'aria-labelledby': 'ac-h', dataset: { actions: types.join(' ') } },
    h('h2', { id: 'ac-h' }, t('case.actions')), area)
  const showButtons = () => {
    hooks.opened(null)
    if (!types.length) {
      mount(area, h('p', { class: 'muted', dataset: { noActions: '', relay: String(relays(c)) } }, whyNoActions(c)))
      return
    }
    const elsewhere = whereElse(c)
    mount(area, elsewhere ? h('p', { class: 'notice', dataset: { elsewhere: '' } }, elsewhere) : null, types.map((type) => h('button', {
      class: ['btn', type === 'denied' || type === 'refused' || type === 'withdrawn' ? 'secondary' : type === 'approved' || type === 'delivered' ? 'ok' : null],
      type: 'button', dataset: { action: type },
      onclick: async () => {
        hooks.opened(type)
        if (type === 'rated') {
          // 好差评: the applicant rates on the screen the agent turns towards them; the page
          // behind shows the rating at once, while the screen thanks them.
          const given = await openRateScreen({
            title: item?.name ?? c.itemCode, subtitle: c.id,
            submit: async (rating, comment) => hooks.done(await api('POST', `/api/cases/${encodeURIComponent(c.id)}/events`, { type, rating, comment }), type),
          })
          if (!given) showButtons()
          return
        }
        mount(area, actionForm(c, item, type, { cancel: showButtons, done: (view) => hooks.done(view, type) }))
        area.querySelector('input, textarea, button')?.focus()
      },
    }, t('action.' + type))))
  }
  showButtons()
  return card
}

/** Where the next step happens when it is not here (shown above this node's own actions). */
function whereElse(c) {
  const open = c.status === 'submitted' || c.status === 'accepted' || c.status === 'correction'
  if (open && handlerNow(c) !== ctx.node.code) return t('case.waitingAbove', { where: unitLabel(handlerNow(c)) })
  return null
}

/** Is this node on the case's path only to pass it on (途经 / 转送): neither its window nor one of its handlers? */
function relays(c) {
  return ctx.node.code !== c.originCode && !(c.handlers ?? [c.handlerCode]).includes(ctx.node.code)
}

/** Why this user has nothing to do on the case, in words for the window. */
function whyNoActions(c) {
  const role = ctx.user.role
  const now = handlerNow(c)
  // What this node is to the case comes first: a relay or a former handler never acts on it.
  if (relays(c)) return t('case.relayOnly', { origin: unitLabel(c.originCode), handler: unitLabel(now) })
  if (now !== ctx.node.code && c.originCode !== ctx.node.code) return t('case.transferredAway', { where: unitLabel(now) })
  if (role === 'supervisor' || role === 'admin') return t('case.readOnly', { role: roleName(role) })
  if (c.status === 'withdrawn' || c.status === 'refused' || (c.status === 'delivered' && c.rating !== null)) return t('case.finished')
  if (now !== ctx.node.code && (c.status === 'submitted' || c.status === 'accepted' || c.status === 'correction')) {
    return t('case.waitingAbove', { where: unitLabel(now) })
  }
  if (c.originCode !== ctx.node.code) return t('case.backAtOrigin', { where: unitLabel(c.originCode) })
  return t('case.nothing')
}

function actionForm(c, item, type, { cancel, done }) {
  if (type === 'opinion') return opinionForm(c, { cancel, done })
  const err = h('div', { class: 'notice error', role: 'alert', hidden: true })
  const note = h('textarea', { id: 'act-note', rows: '3' })
  const parts = []
  let collect = () => ({ note: note.value.trim() || undefined })

  if (type === 'correction-requested') {
    const boxes = (item?.materials ?? []).map((m, i) => h('label', { class: 'check', htmlFor: 'fix-' + i },
      h('input', { type: 'checkbox', id: 'fix-' + i, value: m.name }), m.name))
    parts.push(h('fieldset', { class: 'field', style: { border: '0', padding: '0' } }, h('legend', { class: 'label' }, t('action.whichMaterials')), boxes))
    collect = () => ({ materials: boxes.map((b) => b.querySelector('input')).filter((x) => x.checked).map((x) => x.value), note: note.value.trim() || undefined })
  }
  if (type === 'rectified') collect = () => ({ reply: note.value.trim() })
  let passed = null
  if (type === 'rectification-checked') {
    const choice = (v, label) => h('label', { class: 'check' }, h('input', { type: 'radio', name: 'check', value: String(v), dataset: { passed: String(v) }, onchange: () => (passed = v) }), label)
    parts.push(h('fieldset', { class: 'field', style: { border: '0', padding: '0' } }, choice(true, t('action.checkPassed')), choice(false, t('action.checkFailed'))))
    collect = () => ({ passed, note: note.value.trim() || undefined })
  }
  if (type === 'supplied') {
    const boxes = (c.owed ?? []).map((m, i) => h('label', { class: 'check', htmlFor: 'sup-' + i },
      h('input', { type: 'checkbox', id: 'sup-' + i, value: m, dataset: { supplied: m } }), m))
    parts.push(h('fieldset', { class: 'field', style: { border: '0', padding: '0' } }, h('legend', { class: 'label' }, t('action.whichSupplied')), boxes))
    collect = () => ({ materials: boxes.map((b) => b.querySelector('input')).filter((x) => x.checked).map((x) => x.value), note: note.value.trim() || undefined })
  }
  if (type === 'denied' || type === 'refused' || type === 'withdrawn') {
    collect = () => ({ reason: note.value.trim() || undefined })
  }
  // 并联审批: after a department's 不同意 the clerk issues the denial with its reason filled in.
  if (type === 'denied') note.value = P.denialReason(c.opinions ?? []) ?? ''
  if (type === 'transferred') {
    // To a unit of the case's level (its first handler's), not the one deciding it now.
    const level = levelOf(c.handlers?.[0] ?? c.handlerCode)
    let to = null
    const slot = h('div')
    const drawTarget = () => mount(slot, to
      ? h('p', { class: 'row' }, t('action.transferPicked'), h('strong', { dataset: { field: 'transfer-to', code: to } }, unitLabel(to)),
        h('button', { class: 'btn ghost small', type: 'button', onclick: () => ((to = null), drawTarget(), slot.querySelector('input')?.focus()) }, t('action.transferAgain')))
      : unitPicker({
        id: 'transfer-q', level, exclude: [handlerNow(c)], label: t('action.transferTo', { level: levelName(level) }),
        onPick: (u) => ((to = u.code), drawTarget(), note.focus()),
      }))
    drawTarget()
    parts.push(slot)
    collect = () => ({ to, reason: note.value.trim() })
  }
  const required = type === 'denied' || type === 'refused' || type === 'transferred' || type === 'rectified'
  const noteLabel = { denied: t('action.reasonRequired'), refused: t('action.refuseReason'), rectified: t('action.rectifyReply'), transferred: t('action.transferReason'), withdrawn: t('action.reason') }[type] ?? t('action.note')
  parts.push(h('div', { class: 'field' }, h('label', { htmlFor: 'act-note', class: required ? 'req' : null }, noteLabel), note))

  const submit = h('button', { class: ['btn', type === 'denied' || type === 'refused' || type === 'withdrawn' ? 'danger' : null], type: 'submit', dataset: { confirm: type } }, t('action.confirm.' + type))
  const onsubmit = async (e) => {
    e.preventDefault()
    err.hidden = true
    const body = { type, ...collect() }
    if (type === 'correction-requested' && !body.materials.length) return fail(t('action.pickMaterials'))
    if (type === 'supplied' && !body.materials.length) return fail(t('action.pickSupplied'))
    if (type === 'rectified' && !body.reply) return fail(t('action.needReply'))
    if (type === 'rectification-checked' && body.passed === null) return fail(t('action.pickCheck'))
    if (type === 'denied' && !body.reason) return fail(t('action.needReason'))
    if (type === 'refused' && !body.reason) return fail(t('action.needRefuseReason'))
    if (type === 'transferred' && !body.to) return fail(t('action.pickUnit'))
    if (type === 'transferred' && !body.reason) return fail(t('action.needTransferReason'))
    if (type === 'withdrawn' && !(await confirmDialog({ title: t('action.withdrawTitle'), body: t('action.withdrawBody'), ok: t('action.confirm.withdrawn'), cancel: t('cancel'), danger: true }))) return
    submit.disabled = true
    try {
      done(await api('POST', `/api/cases/${encodeURIComponent(c.id)}/events`, body))
    } catch (x) {
      fail(x.message)
    } finally {
      submit.disabled = false
    }
  }
  function fail(msg) {
    err.textContent = msg
    err.hidden = false
  }
  return h('form', { class: 'action-form', onsubmit, dataset: { form: type } },
    h('h3', null, t('action.' + type)),
    h('p', { class: 'muted small' }, t('action.help.' + type)),
    err, parts,
    h('div', { class: 'row' }, submit, h('button', { class: 'btn secondary', type: 'button', onclick: cancel }, t('cancel'))))
}
