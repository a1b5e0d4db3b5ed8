/**
 * A tiny element builder. Every string becomes a text node: user data (an applicant's name, a
 * note, an item name) is never parsed as HTML anywhere in the UI. There is no innerHTML here.
 */

/**
 * h('button', { class: 'btn', onclick: fn, 'aria-label': '…' }, 'text', child, [more])
 * Props: `class`, `text`, `on<event>`, `dataset`, `style` (an object, set through CSSOM), DOM
 * properties such as `value`, `checked`, `disabled`, `htmlFor`, and any other name as an attribute.
 */
export function h(tag, props, ...children) {
  const el = document.createElement(tag)
  if (props) {
    for (const [k, v] of Object.entries(props)) {
      if (v === undefined || v === null || v === false) continue
      if (k === 'class') el.className = Array.isArray(v) ? v.filter(Boolean).join(' ') : v
      else if (k === 'text') el.textContent = String(v)
      else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v)
      else if (k === 'dataset') Object.assign(el.dataset, v)
      else if (k === 'style' && typeof v === 'object') Object.assign(el.style, v)
      else if (k in PROPS) el[k] = v
      else el.setAttribute(k, v === true ? '' : String(v))
    }
  }
  append(el, children)
  return el
}

const PROPS = { value: 1, checked: 1, disabled: 1, htmlFor: 1, selected: 1, indeterminate: 1, required: 1, multiple: 1, readOnly: 1 }

/** Appends children: strings and numbers as text, arrays flattened, null/false skipped. */
export function append(parent, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false || c === true) continue
    parent.append(c instanceof Node ? c : document.createTextNode(String(c)))
  }
  return parent
}

/** Replaces all children of `el`. */
export function mount(el, ...children) {
  el.replaceChildren()
  return append(el, children)
}

/** Text with every match of `query` wrapped in <mark> (built as nodes, not markup). */
export function highlight(text, query) {
  const q = query.trim()
  if (!q) return [text]
  const out = []
  const lower = text.toLowerCase()
  const needle = q.toLowerCase()
  let i = 0
  for (let at = lower.indexOf(needle); at !== -1 && needle; at = lower.indexOf(needle, i)) {
    if (at > i) out.push(text.slice(i, at))
    out.push(h('mark', null, text.slice(at, at + needle.length)))
    i = at + needle.length
  }
  if (i < text.length) out.push(text.slice(i))
  return out
}

/** Shows a short message in the corner for a few seconds (announced to screen readers). */
export function toast(message, kind = 'ok') {
  const box = document.getElementById('toasts')
  if (!box) return
  const t = h('div', { class: ['toast', kind === 'error' && 'error'] }, message)
  box.append(t)
  // Two at most: a pile of old news hides the page.
  while (box.children.length > 2) box.firstElementChild.remove()
  setTimeout(() => t.remove(), kind === 'error' ? 7000 : 3500)
}

/**
 * A modal confirmation built on <dialog> (focus is trapped and Esc cancels, natively).
 * Resolves true when confirmed.
 */
export function confirmDialog({ title, body, ok, cancel, danger = false }) {
  return new Promise((resolve) => {
    const dlg = h('dialog', { 'aria-labelledby': 'dlg-title' })
    const done = (v) => {
      dlg.close()
      dlg.remove()
      resolve(v)
    }
    const okBtn = h('button', { class: ['btn', danger && 'danger'], type: 'button', onclick: () => done(true) }, ok)
    mount(dlg, h('div', { class: 'dlg' },
      h('h2', { id: 'dlg-title' }, title),
      body ? h('p', null, body) : null,
      h('div', { class: 'row' }, h('button', { class: 'btn secondary', type: 'button', onclick: () => done(false) }, cancel), okBtn)))
    dlg.addEventListener('cancel', (e) => {
      e.preventDefault()
      done(false)
    })
    document.body.append(dlg)
    dlg.showModal()
    okBtn.focus()
  })
}

/** Lets the browser save `text` as a file (CSV export, catalogue export). */
export function download(filename, text, type = 'text/csv;charset=utf-8') {
  const url = URL.createObjectURL(new Blob([text], { type }))
  const a = h('a', { href: url, download: filename })
  document.body.append(a)
  a.click()
  a.remove()
  setTimeout(() => URL.revokeObjectURL(url), 1000)
}
