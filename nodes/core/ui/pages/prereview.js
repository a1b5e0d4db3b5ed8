/**
 * 网上预审, the applicant's page (no login): pick an item this window takes in, fill in the
 * details and tick the materials held, get a pre-review number; below, read the answer with the
 * number and phone — 预审通过, or 需补正 with everything to bring (一次性告知).
 */
import { langButton } from '../app.js'
import { api, qs } from '../lib/api.js'
import { ctx, P } from '../lib/ctx.js'
import { h, mount } from '../lib/dom.js'
import { t } from '../lib/i18n.js'
import { fmtDay, fmtTime, kindTag } from '../lib/format.js'
import { prereviewPill } from '../lib/prereview.js'
import { readApplicant } from '../lib/applicant.js'

const FIELDS = ['name', 'idType', 'idNumber', 'phone']

export async function render(_params, query) {
  const { items } = await api('GET', '/api/public/prereview-items', undefined, { auth: false })
  const made = h('div', { 'aria-live': 'polite' })
  return h('div', { style: { maxWidth: '900px', margin: '0 auto' } },
    h('div', { class: 'public-head' },
      h('span', { class: 'brand-mark', 'aria-hidden': 'true' }, '通'),
      h('div', { class: 'spacer' }, h('strong', null, t('app.full')), h('div', { class: 'muted small' }, ctx.node.name)),
      langButton('btn secondary small')),
    query.get('no') ? null : applyForm(items, made),
    made,
    lookupCard(query.get('no') ?? ''),
    h('p', { class: 'center' }, h('a', { href: '#/progress' }, t('pr.progressLink')), ' · ', h('a', { href: '#/login' }, t('progress.staffLogin'))))
}

/** The application: item, applicant, materials held. */
function applyForm(items, out) {
  const itemSel = h('select', { id: 'pr-item', name: 'item', autofocus: true },
    h('option', { value: '' }, t('pr.pickItem')),
    items.map((i) => h('option', { value: i.code }, i.name)))
  const guide = h('div', { dataset: { guide: '' } })
  const mats = h('ul', { class: 'checklist' })
  const inputs = {
    name: h('input', { type: 'text', id: 'pr-name', autocomplete: 'name' }),
    idType: h('select', { id: 'pr-idType' }, P.ID_TYPES.map((v) => h('option', { value: v }, t('idType.' + v)))),
    idNumber: h('input', { type: 'text', id: 'pr-idNumber', autocomplete: 'off', spellcheck: 'false', class: 'mono' }),
    phone: h('input', { type: 'tel', id: 'pr-phone', autocomplete: 'tel', inputmode: 'tel' }),
  }
  const errs = Object.fromEntries(FIELDS.map((f) => [f, h('span', { class: 'err', id: `pr-${f}-err`, hidden: true })]))
  // A field's error goes once it is edited (it was for what was typed before).
  for (const f of FIELDS) inputs[f].addEventListener('input', () => ((errs[f].hidden = true), inputs[f].removeAttribute('aria-invalid')))
  const field = (f, label, hint) => h('div', { class: 'field' },
    h('label', { htmlFor: 'pr-' + f, class: f === 'idType' ? null : 'req' }, label), inputs[f], hint ? h('span', { class: 'hint' }, hint) : null, errs[f])
  const notice = h('div', { class: 'notice error', role: 'alert', tabindex: '-1', hidden: true })
  const submit = h('button', { class: 'btn big', type: 'submit', dataset: { action: 'submit-prereview' } }, t('pr.submit'))
  const pick = () => {
    const item = items.find((i) => i.code === itemSel.value)
    mount(guide, item ? h('p', { class: 'row muted' }, kindTag(item), item.department, ' · ', item.fee) : null)
    mount(mats, item ? item.materials.map((m, i) => h('li', { dataset: { material: m.name } }, h('label', { htmlFor: 'pr-mat-' + i },
      h('input', { type: 'checkbox', id: 'pr-mat-' + i, value: m.name }),
      h('span', { class: 'mat' }, m.name),
      h('span', { class: ['tag', m.required ? 'required' : 'optional'] }, m.required ? t('mat.required') : t('mat.optional'))))) : h('li', { class: 'muted' }, t('pr.pickFirst')))
  }
  itemSel.addEventListener('change', pick)
  pick()

  const onsubmit = async (e) => {
    e.preventDefault()
    notice.hidden = true
    const { data: applicant, bad } = readApplicant(inputs)
    for (const f of FIELDS) {
      errs[f].hidden = !bad.includes(f)
      errs[f].textContent = t('intake.err.' + f)
      if (bad.includes(f)) inputs[f].setAttribute('aria-invalid', 'true')
      else inputs[f].removeAttribute('aria-invalid')
    }
    if (!itemSel.value) return show(t('pr.needItem'), itemSel)
    if (bad.length) return inputs[bad[0]].focus()
    submit.disabled = true
    try {
      const materials = [...mats.querySelectorAll('input:checked')].map((b) => b.value)
      const r = await api('POST', '/api/public/prereviews', { itemCode: itemSel.value, applicant, materials }, { auth: false })
      mount(out, madeCard(r))
      form.hidden = true
      // The lookup below is for this number now: only the phone is left to type.
      const q = document.getElementById('prq-no')
      if (q) q.value = r.no
      out.querySelector('h2')?.focus()
    } catch (x) {
      show(x.message)
    } finally {
      submit.disabled = false
    }
  }
  const show = (m, focus = notice) => {
    mount(notice, h('p', null, m))
    notice.hidden = false
    focus.focus()
  }
  const form = h('form', { class: 'card', onsubmit, novalidate: true, dataset: { prereviewForm: '' } },
    h('h1', null, t('pr.title')),
    h('p', { class: 'muted' }, t('pr.lead', { name: ctx.node.name })),
    notice,
    h('h2', null, t('pr.step1')),
    h('div', { class: 'field' }, h('label', { htmlFor: 'pr-item', class: 'req' }, t('pr.item')), itemSel), guide,
    h('h2', null, t('pr.step2')),
    h('div', { class: 'form-grid' }, field('name', t('intake.name')), field('phone', t('intake.phone'), t('pr.phoneHint')), field('idType', t('intake.idType')), field('idNumber', t('intake.idNumber'))),
    h('h2', null, t('pr.step3')),
    h('p', { class: 'muted' }, t('pr.materialsLead')),
    mats,
    h('p', { class: 'muted small' }, t('pr.privacy', { name: ctx.node.name })),
    submit)
  return form
}

/** The number, and what happens next. */
function madeCard(r) {
  return h('section', { class: 'card', dataset: { prereviewMade: r.no } },
    h('h2', { tabindex: '-1' }, t('pr.madeTitle')),
    h('p', null, t('pr.madeNo')),
    h('p', { class: 'mono', style: { fontSize: '1.6rem', fontWeight: '700' }, dataset: { field: 'prereview-no' } }, r.no),
    h('p', { class: 'muted' }, t('pr.keepNo')),
    h('h3', null, t('pr.nextTitle')),
    h('ol', null,
      h('li', null, t('pr.next1')),
      h('li', null, t('pr.next2')),
      h('li', null, t('pr.next3', { name: ctx.node.name })),
      h('li', null, t('pr.next4', { date: fmtDay(r.validUntil) }))),
    h('a', { class: 'btn secondary', href: '#/prereview' + qs({ no: r.no }) }, t('pr.checkNow')))
}

/** 查询预审结果: number + phone. */
function lookupCard(no) {
  const num = h('input', { type: 'text', id: 'prq-no', class: 'mono', autocomplete: 'off', spellcheck: 'false', value: no, placeholder: `${ctx.node.code}-YS…` })
  const phone = h('input', { type: 'tel', id: 'prq-phone', autocomplete: 'tel', inputmode: 'tel', autofocus: no ? true : null })
  const out = h('div', { 'aria-live': 'polite' })
  const submit = h('button', { class: 'btn', type: 'submit', dataset: { action: 'lookup-prereview' } }, t('progress.submit'))
  const onsubmit = async (e) => {
    e.preventDefault()
    submit.disabled = true
    try {
      const r = await api('GET', `/api/public/prereviews/${encodeURIComponent(num.value.trim())}` + qs({ phone: phone.value.trim() }), undefined, { auth: false })
      mount(out, answerView(r))
    } catch (x) {
      mount(out, h('div', { class: 'notice error', role: 'alert', dataset: { result: 'error' } }, h('p', null, x.status === 404 ? t('pr.notFound') : x.message)))
    } finally {
      submit.disabled = false
    }
  }
  return h('section', { class: 'card', dataset: { prereviewLookup: '' } },
    h(no ? 'h1' : 'h2', null, t('pr.lookupTitle')),
    h('form', { onsubmit, novalidate: true },
      h('div', { class: 'form-grid' },
        h('div', { class: 'field' }, h('label', { htmlFor: 'prq-no' }, t('pr.no')), num),
        h('div', { class: 'field' }, h('label', { htmlFor: 'prq-phone' }, t('progress.phone')), phone, h('span', { class: 'hint' }, t('pr.phoneHint')))),
      submit),
    out)
}

/** The answer as the applicant reads it. */
function answerView(r) {
  const what = {
    pending: () => h('p', null, t('pr.ans.pending')),
    passed: () => h('p', { class: 'notice' }, t('pr.ans.passed', { name: ctx.node.name })),
    correction: () => h('div', { class: 'notice warn', dataset: { missing: 'list' } },
      h('p', null, h('strong', null, t('pr.ans.correction'))),
      h('ul', null, r.missing.map((m) => h('li', null, m)))),
    accepted: () => h('p', null, t('pr.ans.accepted'), ' ', h('a', { class: 'mono', href: '#/progress' + qs({ id: r.caseId }), dataset: { field: 'case' } }, r.caseId)),
    expired: () => h('p', null, t('pr.ans.expired')),
  }[r.status]
  return h('div', { class: 'card', dataset: { result: r.status } },
    h('h2', null, r.itemName),
    h('dl', { class: 'kv' },
      h('dt', null, t('pr.no')), h('dd', { class: 'mono' }, r.no),
      h('dt', null, t('case.status')), h('dd', null, prereviewPill(r.status)),
      h('dt', null, t('pr.madeAt')), h('dd', null, fmtTime(r.createdAt)),
      r.answeredAt ? [h('dt', null, t('pr.answeredAt')), h('dd', null, fmtTime(r.answeredAt))] : null,
      r.note ? [h('dt', null, t('pr.note')), h('dd', { dataset: { field: 'note' } }, r.note)] : null),
    what(),
    h('p', { class: 'muted small' }, t('pr.only')))
}
