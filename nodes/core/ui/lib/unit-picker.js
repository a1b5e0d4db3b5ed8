/**
 * The unit picker (选择办理单位): the units of one level in the node's unit directory, found as
 * the user types a name (李家), the pinyin initials of a name (ljz) or a code — the node's own
 * search (GET /api/units?level=&q=), best match first. A combobox: ↓/↑ move through the list,
 * Enter picks the highlighted unit (the best match when none is), Esc clears; a click picks too.
 * Retired units (every key revoked) are never offered.
 */
import { api, qs, unitNames } from './api.js'
import { h, highlight, mount } from './dom.js'
import { t } from './i18n.js'
import { levelName } from './format.js'
import { learnNames } from './units.js'

/** At most this many units are listed at once; typing narrows the rest. */
const SHOWN = 8

/** `level`: which units to offer; `exclude`: codes not to offer (the handler now). `onPick(unit)` gets the chosen one. */
export function unitPicker({ id, level, exclude = [], label, onPick }) {
  const listId = id + '-list'
  const input = h('input', {
    type: 'search', id, autocomplete: 'off', spellcheck: 'false', role: 'combobox', 'aria-autocomplete': 'list',
    'aria-expanded': 'true', 'aria-controls': listId, 'aria-describedby': id + '-hint', placeholder: t('picker.placeholder'),
  })
  const list = h('ul', { class: 'unit-options', id: listId, role: 'listbox', 'aria-label': label })
  const count = h('p', { class: 'small muted', id: id + '-hint', 'aria-live': 'polite' })
  let found = []
  let active = -1
  let asked = 0
  let answered = Promise.resolve()

  const draw = () => {
    const q = input.value
    count.textContent = !found.length ? (q.trim() ? t('picker.noMatch') : t('picker.noneAtLevel', { level: levelName(level) }))
      : found.length > SHOWN ? t('picker.manyFound', { n: found.length, shown: SHOWN }) : t('picker.found', { n: found.length })
    mount(list, found.slice(0, SHOWN).map((u, i) => h('li', {
      id: `${id}-opt-${u.code}`, role: 'option', 'aria-selected': String(i === active), class: i === active ? 'active' : null,
      dataset: { unit: u.code },
      // mousedown, not click: the input keeps focus, so the list does not close under the pointer.
      onmousedown: (e) => {
        e.preventDefault()
        onPick(u)
      },
    },
    h('span', { class: 'nm' }, highlight(u.name, q)),
    // The unit above it, when the directory names it: two 新华村 are told apart by their townships.
    unitNames.has(u.parentCode) ? h('span', { class: 'small muted' }, unitNames.get(u.parentCode)) : null,
    h('span', { class: 'mono small muted' }, u.code))))
    if (active >= 0) input.setAttribute('aria-activedescendant', `${id}-opt-${found[active].code}`)
    else input.removeAttribute('aria-activedescendant')
  }
  // Only the answer to the latest question is shown: typing fast must not show an older list.
  const search = () => {
    const n = ++asked
    answered = api('GET', '/api/units' + qs({ level, q: input.value.trim() })).then((res) => {
      if (n !== asked) return
      learnNames(res.units)
      found = res.units.filter((u) => u.active && !exclude.includes(u.code))
      active = input.value.trim() && found.length ? 0 : -1
      draw()
    }, (e) => {
      if (n === asked) count.textContent = e.message
    })
  }
  input.addEventListener('input', search)
  input.addEventListener('keydown', (e) => {
    const n = Math.min(found.length, SHOWN)
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      e.preventDefault()
      const down = e.key === 'ArrowDown'
      if (n) active = active < 0 ? (down ? 0 : n - 1) : (active + (down ? 1 : n - 1)) % n
      draw()
      list.querySelector('[aria-selected=true]')?.scrollIntoView({ block: 'nearest' })
    } else if (e.key === 'Enter') {
      e.preventDefault() // never submits the form around it
      // What was typed last decides, even when its answer is still on the way.
      void answered.then(() => {
        const u = found[active >= 0 ? active : 0]
        if (u) onPick(u)
      })
    } else if (e.key === 'Escape' && input.value) {
      e.preventDefault()
      input.value = ''
      search()
    }
  })
  search()
  return h('div', { class: 'field unit-picker', dataset: { picker: level } },
    h('label', { htmlFor: id }, label), input, count, list)
}
