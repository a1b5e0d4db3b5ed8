/**
 * Intake (受理 / 代办): the applicant and a checklist of the item's materials. What is missing is
 * named all at once (一次性告知) — live as boxes are ticked, and from the node's own answer
 * (400 missing_materials with details.missing), which is the word that counts.
 */
import { go } from '../app.js'
import { apiRetrying, ApiFailure, newRequestKey } from '../lib/api.js'
import { ctx, loadCatalogue, P, today } from '../lib/ctx.js'
import { h, mount, toast } from '../lib/dom.js'
import { t } from '../lib/i18n.js'
import { fmtDay, kindTag, levelName, levelTag, unitLabel } from '../lib/format.js'
import { unitPicker } from '../lib/unit-picker.js'
import { loadUnits } from '../lib/units.js'
import { routeBox } from './guide.js'
import { readApplicant } from '../lib/applicant.js'
import { fromPrereview } from './intake-prereview.js'
import { intakeAttachments } from '../lib/attach.js'

const FIELDS = ['name', 'idType', 'idNumber', 'phone']

export async function render({ code }, query) {
  const item = (await loadCatalogue()).get(code)
  if (!item) throw new Error(t('guide.noItem', { code }))
  if (!P.mayTakeIn(ctx.user.role)) throw new Error(t('intake.notYou'))
  const handler = P.handlerFor(ctx.node.code, item)
  if (typeof handler !== 'string') throw new Error(t('guide.notHere'))
  await loadUnits()

  const inputs = {
    name: h('input', { type: 'text', id: 'ap-name', name: 'name', autocomplete: 'off', required: true, autofocus: true }),
    idType: h('select', { id: 'ap-idType', name: 'idType' }, P.ID_TYPES.map((v) => h('option', { value: v }, t('idType.' + v)))),
    idNumber: h('input', { type: 'text', id: 'ap-idNumber', name: 'idNumber', autocomplete: 'off', spellcheck: 'false', required: true, class: 'mono' }),
    phone: h('input', { type: 'tel', id: 'ap-phone', name: 'phone', autocomplete: 'off', inputmode: 'tel', required: true }),
  }
  const errs = Object.fromEntries(FIELDS.map((f) => [f, h('span', { class: 'err', id: `ap-${f}-err`, hidden: true })]))
  const field = (f, label, hint, full = false) => h('div', { class: ['field', full && 'full'] },
    h('label', { htmlFor: 'ap-' + f, class: f === 'idType' ? null : 'req' }, label), inputs[f],
    hint ? h('span', { class: 'hint' }, hint) : null, errs[f])

  const boxes = item.materials.map((m, i) => {
    const box = h('input', { type: 'checkbox', id: 'mat-' + i, name: 'materials', value: m.name, dataset: { material: m.name } })
    const li = h('li', { dataset: { material: m.name } }, h('label', { htmlFor: 'mat-' + i },
      box, h('span', { class: 'mat' }, m.name),
      h('span', { class: ['tag', m.required ? 'required' : 'optional'] }, m.required ? t('mat.required') : t('mat.optional')),
      m.required && m.deferrable ? h('span', { class: 'tag deferrable' }, t('mat.deferrable')) : null))
    box.addEventListener('change', () => {
      li.classList.toggle('checked', box.checked)
      li.classList.remove('missing')
      tallyNow()
    })
    return { m, box, li }
  })
  const tally = h('div', { class: 'tally', 'aria-live': 'polite', id: 'mat-tally' })
  const defer = deferral(boxes, () => tallyNow())
  const tallyNow = () => {
    defer.draw()
    const owed = defer.materials()
    const need = boxes.filter((b) => b.m.required)
    const left = need.filter((b) => !b.box.checked && !owed.includes(b.m.name))
    mount(tally, left.length
      ? h('span', { class: 'left' }, t('intake.stillMissing', { n: left.length, list: left.map((b) => b.m.name).join('、') }))
      : [h('span', { class: 'done' }, t('intake.allRequired', { n: need.length - owed.length })),
        owed.length ? h('span', { class: 'left', dataset: { deferred: '' } }, ' · ' + t('intake.deferred', { list: owed.join('、') })) : null])
  }
  tallyNow()
  // 网上预审: started from a pre-review number, the form comes filled in (nothing typed twice).
  const pre = await fromPrereview(query?.get('prereview'), item, inputs, boxes, tallyNow)

  const notice = h('div', { class: 'notice error', role: 'alert', tabindex: '-1', hidden: true, id: 'intake-notice' })
  const submit = h('button', { class: 'btn big', type: 'submit', dataset: { action: 'submit-intake' } }, t('intake.submit'))
  // 附件: scans picked here go up once the case is taken in (to this node: offline too).
  const files = intakeAttachments(item.materials.map((m) => m.name))

  const showFieldErrors = (issues) => {
    for (const f of FIELDS) {
      errs[f].hidden = true
      inputs[f].removeAttribute('aria-invalid')
      inputs[f].removeAttribute('aria-describedby')
    }
    for (const f of issues) {
      errs[f].textContent = t('intake.err.' + f)
      errs[f].hidden = false
      inputs[f].setAttribute('aria-invalid', 'true')
      inputs[f].setAttribute('aria-describedby', errs[f].id)
    }
    if (issues.length) inputs[issues[0]].focus()
  }

  // One Idempotency-Key per submission: sending the same application again (after a network
  // failure or a 503) reuses it, so the node stores it once; a changed application gets a new one.
  let pending = null
  const onsubmit = async (e) => {
    e.preventDefault()
    notice.hidden = true
    // The same schema the node checks with, so the agent hears about a typo before sending.
    const { data: applicant, bad } = readApplicant(inputs)
    showFieldErrors(bad)
    if (bad.length) return
    submit.disabled = true
    try {
      const materials = boxes.filter((b) => b.box.checked).map((b) => b.m.name)
      const owed = defer.materials()
      const deferred = owed.length ? { materials: owed, commitment: defer.commitment(), deadline: defer.deadline() } : undefined
      const body = { itemCode: item.code, handlerCode: choice.chosen ?? undefined, applicant, materials, deferred }
      const text = JSON.stringify(body)
      if (pending?.text !== text) pending = { text, key: newRequestKey() }
      const out = await apiRetrying('POST', pre?.path ?? '/api/cases', body, pending.key)
      pending = null
      await files.uploadAll(out.id)
      toast(t('intake.done', { id: out.id }))
      go('#/receipt/' + encodeURIComponent(out.id))
    } catch (x) {
      if (x instanceof ApiFailure && x.code === 'missing_materials') {
        const missing = x.details?.missing ?? []
        for (const b of boxes) b.li.classList.toggle('missing', missing.includes(b.m.name))
        mount(notice, h('h3', null, t('intake.missingTitle', { n: missing.length })),
          h('p', null, t('intake.missingLead')),
          h('ul', { dataset: { missing: 'list' } }, missing.map((m) => h('li', null, m))))
      } else if (x instanceof ApiFailure && x.code === 'invalid_input' && x.details?.issues) {
        const fields = x.details.issues.map((i) => i.field.replace(/^applicant\./, '')).filter((f) => FIELDS.includes(f))
        showFieldErrors(fields)
        mount(notice, h('p', null, x.message))
      } else {
        mount(notice, h('p', null, x.message))
      }
      notice.hidden = false
      notice.focus()
    } finally {
      submit.disabled = false
    }
  }

  const choice = handlerChoice(item, handler, () => drawSummary())
  const summary = h('div')
  const note = h('p', { class: 'muted small', style: { marginTop: '10px' } })
  const drawSummary = () => {
    const decider = choice.chosen ?? handler
    const here = decider === ctx.node.code
    const estimate = ctx.days.add(today(), item.promisedDays)
    mount(summary, routeBox(decider),
      h('dl', { class: 'kv', style: { marginTop: '16px' } },
        h('dt', null, t('guide.promised')), h('dd', null, item.kind === 'instant' ? t('kind.instant') : t('days', { n: item.promisedDays })),
        h('dt', null, t('intake.expected')), h('dd', null, here ? fmtDay(estimate) : t('intake.expectedAbove', { n: item.promisedDays })),
        h('dt', null, t('guide.fee')), h('dd', null, item.fee)))
    note.textContent = here ? t('intake.hereNote') : t('intake.aboveNote')
  }
  drawSummary()
  return h('div', null,
    h('div', { class: 'crumbs' }, h('a', { href: '#/items' }, t('nav.items')), ' › ', h('a', { href: '#/items/' + encodeURIComponent(item.code) }, item.name), ' › ', t('intake.crumb')),
    h('div', { class: 'page-head' }, h('div', null, h('h1', null, t('intake.title', { name: item.name })), h('p', { class: 'sub row' }, levelTag(item.level), kindTag(item), h('span', { class: 'mono' }, item.code)))),
    h('form', { class: 'grid-2', onsubmit, novalidate: true, 'aria-labelledby': 'intake-h' },
      h('div', null,
        notice,
        pre?.card,
        h('section', { class: 'card', 'aria-labelledby': 'intake-h' },
          h('h2', { id: 'intake-h' }, t('intake.applicant')),
          h('div', { class: 'form-grid' },
            field('name', t('intake.name'), null),
            field('phone', t('intake.phone'), t('intake.phoneHint')),
            field('idType', t('intake.idType'), null),
            field('idNumber', t('intake.idNumber'), null))),
        choice.card,
        h('section', { class: 'card', 'aria-labelledby': 'mat-h' },
          h('h2', { id: 'mat-h' }, t('intake.materials')),
          h('p', { class: 'muted' }, t('intake.materialsLead')),
          h('fieldset', { style: { border: '0', padding: '0', margin: '0' } },
            h('legend', { class: 'sr-only' }, t('intake.materials')),
            h('ul', { class: 'checklist' }, boxes.map((b) => b.li))),
          tally),
        defer.card,
        files.el),
      h('aside', { class: 'sticky-side' },
        h('section', { class: 'card' },
          h('h2', null, t('intake.summary')),
          summary,
          h('div', { style: { marginTop: '20px' } }, submit),
          note))))
}

/**
 * The deciding unit (办理单位): by default the window's own unit at the item's level; the agent
 * may name any other unit of that level in the tree (异地办理 / 代收代办), chosen in the unit
 * picker. `chosen` is null for the default (nothing extra is sent).
 */
function handlerChoice(item, byDefault, changed) {
  const state = { chosen: null, open: false }
  const current = h('div', { class: 'row' })
  const toggle = h('button', { class: 'btn secondary small', type: 'button', 'aria-expanded': 'false', 'aria-controls': 'handler-picker', dataset: { action: 'choose-handler' } }, t('intake.chooseOther'))
  const pickerBox = h('div', { id: 'handler-picker', hidden: true })
  const draw = () => {
    const code = state.chosen ?? byDefault
    mount(current,
      h('strong', { dataset: { field: 'handler', code } }, unitLabel(code)),
      state.chosen ? h('span', { class: 'tag cross' }, t('case.crossTag')) : h('span', { class: 'tag' }, t('intake.handlerDefault')),
      state.chosen ? h('button', { class: 'btn ghost small', type: 'button', dataset: { action: 'default-handler' }, onclick: () => set(null) }, t('intake.backToDefault', { name: unitLabel(byDefault) })) : null)
    toggle.setAttribute('aria-expanded', String(state.open))
    toggle.textContent = state.open ? t('intake.chooseClose') : t('intake.chooseOther')
    pickerBox.hidden = !state.open
    mount(pickerBox, state.open
      ? unitPicker({ id: 'handler-q', level: item.level, exclude: [byDefault], label: t('intake.pickerLabel', { level: levelName(item.level) }), onPick: (u) => set(u.code) })
      : null)
  }
  const set = (code) => {
    // The same rule the node applies: a unit of the item's level in this city's tree.
    state.chosen = code && typeof P.handlerFor(ctx.node.code, item, code) === 'string' ? code : null
    state.open = false
    draw()
    changed()
    toggle.focus()
  }
  toggle.addEventListener('click', () => {
    state.open = !state.open
    draw()
    if (state.open) pickerBox.querySelector('input')?.focus()
  })
  draw()
  const card = h('section', { class: 'card', 'aria-labelledby': 'handler-h', dataset: { handlerChoice: '' } },
    h('h2', { id: 'handler-h' }, t('intake.handler')),
    current,
    h('p', { class: 'muted small' }, t('intake.handlerLead', { level: levelName(item.level) })),
    toggle, pickerBox)
  return { card, get chosen() { return state.chosen } }
}

/**
 * 容缺受理: when a required material the catalogue marks deferrable is not ticked, the agent may
 * accept the case without it on the applicant's written commitment and a deadline (five working
 * days by default). `materials()` is what is deferred now (none unless the box is ticked).
 */
function deferral(boxes, changed) {
  const on = h('input', { type: 'checkbox', id: 'defer-on', dataset: { action: 'defer' } })
  const commitment = h('textarea', { id: 'defer-commitment', rows: '3', maxlength: '1000' })
  commitment.value = t('intake.deferDefault')
  const deadline = h('input', { type: 'date', id: 'defer-deadline', value: ctx.days.add(today(), 5), min: today() })
  const list = h('p', { class: 'row', dataset: { deferrable: '' } })
  const details = h('div', null,
    h('div', { class: 'field' }, h('label', { htmlFor: 'defer-commitment', class: 'req' }, t('intake.deferCommitment')), commitment),
    h('div', { class: 'field' }, h('label', { htmlFor: 'defer-deadline', class: 'req' }, t('intake.deferDeadline')), deadline))
  on.addEventListener('change', changed)
  const card = h('section', { class: 'card defer-card', hidden: true, 'aria-labelledby': 'defer-h', dataset: { deferral: '' } },
    h('h2', { id: 'defer-h' }, t('intake.deferTitle')),
    h('p', { class: 'muted' }, t('intake.deferLead')), list,
    h('label', { class: 'check', htmlFor: 'defer-on' }, on, t('intake.deferOn')), details)
  const candidates = () => boxes.filter((b) => b.m.required && b.m.deferrable && !b.box.checked).map((b) => b.m.name)
  return {
    card,
    draw() {
      const names = candidates()
      card.hidden = names.length === 0
      details.hidden = !on.checked
      mount(list, names.map((n) => h('span', { class: 'tag deferrable' }, n)))
    },
    materials: () => (on.checked ? candidates() : []),
    commitment: () => commitment.value.trim(),
    deadline: () => deadline.value,
  }
}
