/**
 * One pre-review for window staff: the applicant, the item and what they hold, and the answer
 * given at once — 预审通过, or 需补正 with every missing material ticked from the item's guide
 * (required ones not held are ticked already: 一次性告知) and a note. Once answered, intake
 * starts from it (the intake page filled in: nothing typed twice).
 */
import { go } from '../app.js'
import { api } from '../lib/api.js'
import { ctx, loadCatalogue, P } from '../lib/ctx.js'
import { h, mount, toast } from '../lib/dom.js'
import { t } from '../lib/i18n.js'
import { fmtTime, personName } from '../lib/format.js'
import { prereviewPill } from '../lib/prereview.js'

export async function render({ no }) {
  const p = await api('GET', '/api/prereviews/' + encodeURIComponent(no))
  const item = (await loadCatalogue()).get(p.itemCode)
  const canAct = P.mayTakeIn(ctx.user.role)
  return h('div', { dataset: { prereviewView: p.no } },
    h('div', { class: 'crumbs' }, h('a', { href: '#/prereviews' }, t('prq.title')), ' › ', h('span', { class: 'mono' }, p.no)),
    h('div', { class: 'page-head' }, h('div', null, h('h1', null, t('prv.title', { name: p.itemName })), h('p', { class: 'sub row' }, prereviewPill(p.status, true), h('span', { class: 'mono' }, p.no)))),
    h('div', { class: 'grid-2' },
      h('div', null,
        h('section', { class: 'card' },
          h('h2', null, t('intake.applicant')),
          h('dl', { class: 'kv' },
            h('dt', null, t('intake.name')), h('dd', { dataset: { field: 'name' } }, p.applicant.name),
            h('dt', null, t('intake.idType')), h('dd', null, t('idType.' + p.applicant.idType)),
            h('dt', null, t('intake.idNumber')), h('dd', { class: 'mono' }, p.applicant.idNumber),
            h('dt', null, t('intake.phone')), h('dd', null, p.applicant.phone),
            h('dt', null, t('pr.madeAt')), h('dd', null, fmtTime(p.createdAt)),
            h('dt', null, t('prv.validUntil')), h('dd', null, p.validUntil))),
        h('section', { class: 'card' },
          h('h2', null, t('prv.held')),
          h('ul', { class: 'plain', dataset: { held: '' } }, (item?.materials ?? p.materials.map((name) => ({ name, required: false }))).map((m) => {
            const held = p.materials.includes(m.name)
            return h('li', { dataset: { material: m.name, held: String(held) } }, held ? '✓ ' : '✗ ', m.name, ' ',
              h('span', { class: ['tag', m.required ? 'required' : 'optional'] }, m.required ? t('mat.required') : t('mat.optional')),
              held ? null : h('span', { class: 'muted small' }, ' ' + t('prv.notHeld')))
          })))),
      h('aside', null,
        p.status === 'pending' && canAct && item ? answerForm(p, item) : answered(p, canAct))))
}

/** What was answered, and the way on: intake from it, or the case it became. */
function answered(p, canAct) {
  const intake = canAct && (p.status === 'passed' || p.status === 'correction' || p.status === 'pending')
  return h('section', { class: 'card', dataset: { answered: p.status } },
    h('h2', null, t('prv.answer')),
    p.status === 'pending' ? h('p', null, t('pr.ans.pending')) : null,
    p.status === 'correction' ? h('div', { class: 'notice warn', dataset: { missing: 'list' } }, h('p', null, t('pr.ans.correction')), h('ul', null, p.missing.map((m) => h('li', null, m)))) : null,
    p.status === 'passed' ? h('p', { class: 'notice ok' }, t('pr.status.passed')) : null,
    p.note ? h('p', null, t('pr.note'), '：', p.note) : null,
    p.answeredBy ? h('p', { class: 'muted small' }, t('prv.by', { name: personName(p.answeredBy), at: fmtTime(p.answeredAt) })) : null,
    p.status === 'accepted' ? h('p', null, t('pr.ans.accepted'), ' ', h('a', { class: 'mono', href: '#/case/' + encodeURIComponent(p.caseId), dataset: { field: 'case' } }, p.caseId)) : null,
    p.status === 'expired' ? h('p', null, t('pr.ans.expired')) : null,
    intake ? h('a', { class: 'btn big', href: `#/intake/${encodeURIComponent(p.itemCode)}?prereview=${encodeURIComponent(p.no)}`, dataset: { action: 'intake-from-prereview' } }, t('prv.intake')) : null)
}

/** 通过 or 需补正: one answer, at once. */
function answerForm(p, item) {
  const notHeld = (m) => !p.materials.includes(m.name)
  const boxes = item.materials.map((m, i) => ({ m, box: h('input', { type: 'checkbox', id: 'prv-mat-' + i, value: m.name, checked: m.required && notHeld(m) && !m.deferrable }) }))
  const note = h('textarea', { id: 'prv-note', rows: '3', maxlength: '500' })
  const err = h('div', { class: 'notice error', role: 'alert', hidden: true })
  const send = async (result) => {
    err.hidden = true
    const missing = boxes.filter((b) => b.box.checked).map((b) => b.m.name)
    if (result === 'correction' && !missing.length) return show(t('prv.pickMissing'))
    try {
      await api('POST', `/api/prereviews/${encodeURIComponent(p.no)}/answer`, result === 'passed' ? { result, note: note.value.trim() || undefined } : { result, missing, note: note.value.trim() || undefined })
      toast(t('prv.done'))
      go('#/prereviews/' + encodeURIComponent(p.no))
    } catch (x) {
      show(x.message)
    }
  }
  const show = (m) => {
    mount(err, h('p', null, m))
    err.hidden = false
  }
  const complete = item.materials.every((m) => !m.required || !notHeld(m) || m.deferrable)
  return h('section', { class: 'card', dataset: { answerForm: '' } },
    h('h2', null, t('prv.answer')),
    h('p', { class: 'muted' }, complete ? t('prv.completeLead') : t('prv.incompleteLead')),
    err,
    h('fieldset', { style: { border: '0', padding: '0', margin: '0' } },
      h('legend', null, t('prv.missing')),
      h('ul', { class: 'checklist' }, boxes.map(({ m, box }) => h('li', { dataset: { material: m.name } }, h('label', { htmlFor: box.id }, box, h('span', { class: 'mat' }, m.name),
        notHeld(m) ? h('span', { class: 'tag required' }, t('prv.notHeld')) : null))))),
    h('div', { class: 'field' }, h('label', { htmlFor: 'prv-note' }, t('prv.noteLabel')), note),
    h('div', { class: 'row' },
      h('button', { class: 'btn', type: 'button', disabled: !complete, dataset: { action: 'prereview-pass' }, onclick: () => send('passed') }, t('prv.pass')),
      h('button', { class: 'btn secondary', type: 'button', dataset: { action: 'prereview-correction' }, onclick: () => send('correction') }, t('prv.correction'))))
}
