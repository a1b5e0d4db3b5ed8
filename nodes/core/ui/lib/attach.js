/**
 * 附件 in the browser: pick or photograph a file, shrink a photo before it leaves the page
 * (long side 1600 px, JPEG 80%: a page of 150–300 KB, not 4 MB), upload it to this node, list a
 * case's files with where each stands here (已收到 / 还在传输中 x% / 未到), open one once whole.
 * Uploads go to this node only: at a village they work with the line down, and the link carries
 * the bytes up later, after the cases.
 */
import { ApiFailure, localized, session } from './api.js'
import { h, mount, toast } from './dom.js'
import { t } from './i18n.js'
import { fmtTime, personName, unitLabel } from './format.js'

/** What the file input offers: photos (the camera on a phone or tablet) and PDF. */
export const ACCEPT = 'image/*,application/pdf'
const LONG_SIDE = 1600
const QUALITY = 0.8
const POLL_MS = 3000

const kb = (n) => String(Math.max(1, Math.round(n / 1024)))

/**
 * A photo shrunk to at most LONG_SIDE px on its long side, as JPEG; a PDF as it is. A photo the
 * browser cannot decode goes as it is (the node tells it by its bytes, and refuses what it must).
 */
export async function shrink(file) {
  if (!file.type.startsWith('image/')) return { blob: file, name: file.name }
  try {
    const bitmap = await createImageBitmap(file)
    const scale = Math.min(1, LONG_SIDE / Math.max(bitmap.width, bitmap.height))
    const canvas = document.createElement('canvas')
    canvas.width = Math.max(1, Math.round(bitmap.width * scale))
    canvas.height = Math.max(1, Math.round(bitmap.height * scale))
    const g = canvas.getContext('2d')
    g.fillStyle = '#fff' // a transparent PNG gets a white page, not a black one
    g.fillRect(0, 0, canvas.width, canvas.height)
    g.drawImage(bitmap, 0, 0, canvas.width, canvas.height)
    bitmap.close?.()
    const blob = await new Promise((resolve) => canvas.toBlob(resolve, 'image/jpeg', QUALITY))
    if (!blob) return { blob: file, name: file.name }
    return { blob, name: file.name.replace(/\.[^.]*$/, '') + '.jpg' }
  } catch {
    return { blob: file, name: file.name }
  }
}

/** Uploads one file (shrunk first) to a case at this node; resolves with the attachment, throws ApiFailure. */
export async function upload(caseId, file, material) {
  const { blob, name } = await shrink(file)
  const q = new URLSearchParams({ name: name || 'scan' })
  if (material) q.set('material', material)
  const s = session.get()
  let res
  try {
    res = await fetch(`/api/cases/${encodeURIComponent(caseId)}/attachments?${q}`, {
      method: 'POST', body: blob, cache: 'no-store',
      headers: { 'content-type': blob.type || 'application/octet-stream', ...(s?.token ? { authorization: `Bearer ${s.token}` } : {}) },
    })
  } catch {
    throw new ApiFailure(0, 'network', t('err.network'))
  }
  const data = await res.json().catch(() => null)
  if (!res.ok) {
    const e = data?.error ?? {}
    const code = e.code ?? 'http_' + res.status
    throw new ApiFailure(res.status, code, localized(code, e.message ?? `HTTP ${res.status}`), e.details)
  }
  return data
}

/** Opens a held file in a new tab (fetched with this session's token: a plain link would carry none). */
async function open(caseId, a) {
  const s = session.get()
  const res = await fetch(`/api/cases/${encodeURIComponent(caseId)}/attachments/${a.hash}`, { headers: s?.token ? { authorization: `Bearer ${s.token}` } : {}, cache: 'no-store' })
  if (!res.ok) {
    const e = (await res.json().catch(() => null))?.error ?? {}
    return toast(localized(e.code ?? 'other', e.message ?? `HTTP ${res.status}`))
  }
  const url = URL.createObjectURL(await res.blob())
  window.open(url, '_blank', 'noopener')
  setTimeout(() => URL.revokeObjectURL(url), 60_000)
}

/** A file input (camera or file) with the material it shows; `onFiles(files, material)` gets what was picked. */
export function picker({ id, materials = [], onFiles }) {
  const select = materials.length
    ? h('select', { id: id + '-mat', dataset: { attachMaterial: '' } }, h('option', { value: '' }, t('att.anyMaterial')), materials.map((m) => h('option', { value: m }, m)))
    : null
  const input = h('input', {
    type: 'file', id, accept: ACCEPT, capture: 'environment', multiple: true, dataset: { attachInput: '' },
    onchange: () => {
      const files = [...input.files]
      input.value = ''
      if (files.length) onFiles(files, select?.value || undefined)
    },
  })
  return h('div', { class: 'attach-picker' },
    select ? h('div', { class: 'field' }, h('label', { htmlFor: id + '-mat' }, t('att.material')), select) : null,
    h('div', { class: 'field' }, h('label', { htmlFor: id }, t('att.add')), input, h('p', { class: 'small muted' }, t('att.hint'))))
}

function stateText(a) {
  if (a.state === 'held') return t('att.held')
  if (a.state === 'arriving') return t('att.arriving', { pct: Math.floor((100 * a.heldBytes) / a.size) })
  return t('att.missing')
}

/**
 * The case page's card: the files with their state, refreshed while any is on its way, and —
 * where this user may add one (`canAdd`) — the picker.
 */
export function attachmentsCard(c, { canAdd, materials }) {
  const list = h('ul', { class: 'attach-list', dataset: { attachments: '' } })
  const status = h('p', { class: 'small muted', role: 'status', 'aria-live': 'polite' })
  let timer = null
  let gone = false
  const path = `/api/cases/${encodeURIComponent(c.id)}/attachments`
  const draw = (items) => {
    if (!items.length) return mount(list, h('li', { class: 'muted' }, t('att.none')))
    mount(list, items.map((a) => h('li', { dataset: { attachment: a.hash, state: a.state } },
      h('span', { class: 'spacer' }, h('strong', null, a.name), a.material ? ` · ${a.material}` : '', ' · ', t('att.size', { kb: kb(a.size) })),
      h('span', { class: ['small', a.state === 'held' ? 'muted' : 'waiting'], dataset: { attachState: a.state } }, stateText(a)),
      a.state === 'held' ? h('button', { class: 'btn small secondary', type: 'button', dataset: { attachOpen: a.hash }, onclick: () => void open(c.id, a) }, t('att.open')) : null,
      h('div', { class: 'small muted' }, `${fmtTime(a.at)} · ${personName(a.user)} · ${unitLabel(a.author)}`))))
  }
  const refresh = async () => {
    clearTimeout(timer)
    if (gone) return
    const s = session.get()
    const res = await fetch(path, { headers: s?.token ? { authorization: `Bearer ${s.token}` } : {}, cache: 'no-store' }).catch(() => null)
    const data = res?.ok ? await res.json() : null
    if (data) draw(data.attachments)
    // While a file is on its way, look again (the township sees 还在传输中 turn into 已收到).
    if (!data || data.attachments.some((a) => a.state !== 'held')) timer = setTimeout(() => void refresh(), POLL_MS)
  }
  const add = async (files, material) => {
    for (const f of files) {
      mount(status, t('att.uploading', { name: f.name }))
      try {
        await upload(c.id, f, material)
        toast(t('att.uploaded', { name: f.name }))
      } catch (x) {
        toast(t('att.failed', { name: f.name, why: x.message }))
      }
    }
    mount(status)
    await refresh()
  }
  void refresh()
  return {
    el: h('section', { class: 'card', 'aria-labelledby': 'att-h' },
      h('h2', { id: 'att-h' }, t('att.title')), list, status,
      canAdd ? picker({ id: 'att-file', materials, onFiles: (files, m) => void add(files, m) }) : null),
    /** The case changed (a file named elsewhere may have arrived in its event). */
    refresh: () => void refresh(),
    close: () => {
      gone = true
      clearTimeout(timer)
    },
  }
}

/**
 * The intake page's part: files picked before the application exists, uploaded once the node
 * has taken it in (`uploadAll(caseId)`); a failed one is named, the case stands.
 */
export function intakeAttachments(materials) {
  const pending = []
  const list = h('ul', { class: 'attach-list', dataset: { attachPending: '' } })
  const draw = () => mount(list, pending.map((p, i) => h('li', null,
    h('span', { class: 'spacer' }, p.file.name, p.material ? ` · ${p.material}` : '', ' · ', t('att.size', { kb: kb(p.file.size) })),
    h('button', { class: 'btn ghost small', type: 'button', onclick: () => (pending.splice(i, 1), draw()) }, t('att.remove')))))
  const el = h('section', { class: 'card', 'aria-labelledby': 'att-h' },
    h('h2', { id: 'att-h' }, t('att.title')),
    h('p', { class: 'small muted' }, t('att.pendingNote')),
    list,
    picker({ id: 'intake-file', materials, onFiles: (files, material) => (pending.push(...files.map((file) => ({ file, material }))), draw()) }))
  return {
    el,
    async uploadAll(caseId) {
      for (const p of pending.splice(0)) {
        try {
          await upload(caseId, p.file, p.material)
        } catch (x) {
          toast(t('att.failed', { name: p.file.name, why: x.message }))
        }
      }
      draw()
    },
  }
}

/** The banner's figure: attachment bytes waiting to go up (null when none). */
export function waitingUpText(parent) {
  const n = parent?.attachmentBytesUp ?? 0
  return n > 0 ? t('att.waitingUp', { kb: kb(n) }) : null
}
