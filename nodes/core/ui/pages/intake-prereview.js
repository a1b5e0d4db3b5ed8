/**
 * Intake from a pre-review (网上预审): the intake page opened with `?prereview=<number>` is filled
 * from it — the applicant, and the materials they said they hold, ticked — and sends to
 * `POST /api/prereviews/<number>/intake`, the ordinary intake that also marks the pre-review
 * 已受理. The window still checks the originals and may correct a field or a tick.
 */
import { api } from '../lib/api.js'
import { h } from '../lib/dom.js'
import { t } from '../lib/i18n.js'
import { prereviewPill } from '../lib/prereview.js'

/** Fills `inputs` and `boxes` from the pre-review `no` (if any); answers where to send and a card to show. */
export async function fromPrereview(no, item, inputs, boxes, changed) {
  if (!no) return null
  const p = await api('GET', '/api/prereviews/' + encodeURIComponent(no))
  if (p.itemCode !== item.code) throw new Error(t('pri.otherItem', { no: p.no, name: p.itemName }))
  if (p.status === 'accepted') throw new Error(t('pri.already', { no: p.no, id: p.caseId }))
  if (p.status === 'expired') throw new Error(t('pr.ans.expired'))
  for (const f of Object.keys(inputs)) if (p.applicant[f] !== undefined) inputs[f].value = p.applicant[f]
  for (const b of boxes) {
    b.box.checked = p.materials.includes(b.m.name)
    b.li.classList.toggle('checked', b.box.checked)
  }
  changed()
  const card = h('section', { class: 'notice', dataset: { fromPrereview: p.no } },
    h('h3', null, t('pri.title', { no: p.no })), h('p', null, prereviewPill(p.status), ' ', t('pri.lead')),
    p.status === 'correction' ? h('p', null, t('pri.wasMissing', { list: p.missing.join('、') })) : null)
  return { path: `/api/prereviews/${encodeURIComponent(p.no)}/intake`, card }
}
