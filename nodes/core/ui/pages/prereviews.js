/**
 * 预审 queue for window staff and agents: pre-reviews made on this node's public page, waiting
 * ones first (oldest first: answer in order), then the answered; and a box to open one by the
 * number an applicant brings to the window.
 */
import { go } from '../app.js'
import { api } from '../lib/api.js'
import { h } from '../lib/dom.js'
import { t } from '../lib/i18n.js'
import { fmtShort } from '../lib/format.js'
import { prereviewPill } from '../lib/prereview.js'

export async function render() {
  const { prereviews } = await api('GET', '/api/prereviews')
  const waiting = prereviews.filter((p) => p.status === 'pending').reverse()
  const rest = prereviews.filter((p) => p.status !== 'pending')
  const no = h('input', { type: 'text', id: 'pr-open-no', class: 'mono', autocomplete: 'off', spellcheck: 'false', autofocus: true })
  const open = (e) => {
    e.preventDefault()
    const v = no.value.trim().toUpperCase()
    if (v) go('#/prereviews/' + encodeURIComponent(v))
  }
  return h('div', null,
    h('div', { class: 'page-head' }, h('div', null, h('h1', null, t('prq.title')), h('p', { class: 'sub' }, t('prq.lead')))),
    h('form', { class: 'card row', onsubmit: open, dataset: { openPrereview: '' } },
      h('div', { class: 'field spacer', style: { margin: '0' } }, h('label', { htmlFor: 'pr-open-no' }, t('prq.openLabel')), no, h('span', { class: 'hint' }, t('prq.openHint'))),
      h('button', { class: 'btn', type: 'submit', dataset: { action: 'open-prereview' } }, t('prq.open'))),
    h('div', { class: 'kpis' }, h('div', { class: ['kpi', waiting.length ? 'warn' : ''], dataset: { kpi: 'prereview-pending' } },
      h('div', { class: 'k' }, t('pr.status.pending')), h('div', { class: 'v' }, String(waiting.length)))),
    table(waiting, t('prq.waiting'), t('prq.noneWaiting')),
    rest.length ? table(rest, t('prq.answered'), '') : null)
}

function table(list, caption, empty) {
  if (!list.length) return h('div', { class: 'card empty' }, h('div', { class: 'big' }, empty))
  return h('section', null, h('h2', null, caption), h('div', { class: 'table-wrap' }, h('table', { class: 'table', dataset: { table: 'prereviews' } },
    h('caption', { class: 'sr-only' }, caption),
    h('thead', null, h('tr', null, [t('pr.no'), t('case.item'), t('case.applicant'), t('case.status'), t('pr.madeAt')].map((x) => h('th', { scope: 'col' }, x)))),
    h('tbody', null, list.map((p) => h('tr', { dataset: { prereview: p.no } },
      h('td', null, h('a', { class: 'case-link mono', href: '#/prereviews/' + encodeURIComponent(p.no) }, p.no)),
      h('td', null, p.itemName),
      h('td', null, p.applicantName),
      h('td', null, prereviewPill(p.status)),
      h('td', { class: 'nowrap' }, fmtShort(p.createdAt))))))))
}
