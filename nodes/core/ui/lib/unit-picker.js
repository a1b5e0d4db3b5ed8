/**
 * The unit picker (选择办理单位): the units of one level from the directory, found as the user
 * types a name (李家), the pinyin initials of a name (ljz) or a code. A combobox: ↓/↑ move
 * through the list, Enter picks the highlighted unit (the best match when none is), Esc
 * clears; a click picks too. Retired units (every key revoked) are never offered.
 */
import { h, highlight, mount } from './dom.js'
import { t } from './i18n.js'
import { levelName, unitLabel } from './format.js'
import { unitScore } from './units.js'

/** At most this many units are listed at once; typing narrows the rest. */
const SHOWN = 8

/**
 * `units`: the directory (loadUnits()); `level`: which units to offer; `exclude`: codes not to
 * offer (the handler now). `onPick(unit)` is called with the chosen unit.
 */
export function unitPicker({ id, units, level, exclude = [], label, onPick }) {
  const pool = units.filter((u) => u.level === level && u.active && !exclude.includes(u.code))
  const listId = id + '-list'
  const input = h('input', {
    type: 'search', id, autocomplete: 'off', spellcheck: 'false', role: 'combobox', 'aria-autocomplete': 'list',
    'aria-expanded': 'true', 'aria-controls': listId, 'aria-describedby': id + '-hint', placeholder: t('picker.placeholder'),
  })
  const list = h('ul', { class: 'unit-options', id: listId, role: 'listbox', 'aria-label': label })
  const count = h('p', { class: 'small muted', id: id + '-hint', 'aria-live': 'polite' })
  let found = []
  let active = -1

  const show = () => {
    const q = input.value
    found = pool.map((u) => ({ u, s: unitScore(u, q) })).filter((r) => r.s > 0)
      .sort((a, b) => b.s - a.s || (a.u.code < b.u.code ? -1 : 1)).map((r) => r.u)
    active = Math.min(active, Math.min(found.length, SHOWN) - 1)
    count.textContent = !pool.length ? t('picker.noneAtLevel', { level: levelName(level) })
      : !found.length ? t('picker.noMatch')
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
    h('span', { class: 'small muted' }, u.parentCode ? unitLabel(u.parentCode) : ''),
    h('span', { class: 'mono small muted' }, u.code))))
    if (active >= 0) input.setAttribute('aria-activedescendant', `${id}-opt-${found[active].code}`)
    else input.removeAttribute('aria-activedescendant')
  }
  input.addEventListener('input', () => {
    active = input.value.trim() ? 0 : -1
    show()
  })
  input.addEventListener('keydown', (e) => {
    const n = Math.min(found.length, SHOWN)
    if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
      e.preventDefault()
      const down = e.key === 'ArrowDown'
      if (n) active = active < 0 ? (down ? 0 : n - 1) : (active + (down ? 1 : n - 1)) % n
      show()
      list.querySelector('[aria-selected=true]')?.scrollIntoView({ block: 'nearest' })
    } else if (e.key === 'Enter') {
      e.preventDefault() // never submits the form around it
      const u = found[active >= 0 ? active : 0]
      if (u) onPick(u)
    } else if (e.key === 'Escape' && input.value) {
      e.preventDefault()
      input.value = ''
      active = -1
      show()
    }
  })
  show()
  return h('div', { class: 'field unit-picker', dataset: { picker: level } },
    h('label', { htmlFor: id }, label), input, count, list)
}
