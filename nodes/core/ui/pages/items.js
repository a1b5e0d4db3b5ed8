/**
 * Item search (事项查询): by name, pinyin initials or code, as you type. Enter opens the best
 * match; ↓ moves into the results. The query stays in the address so Back returns to it.
 */
import { go, remember } from '../app.js'
import { ctx, loadCatalogue, P } from '../lib/ctx.js'
import { h, highlight, mount } from '../lib/dom.js'
import { t } from '../lib/i18n.js'
import { kindTag, levelName, levelTag } from '../lib/format.js'
import { matchedField, searchItems } from '../lib/search.js'

export async function render(_params, query) {
  const items = [...(await loadCatalogue()).values()]
  const levels = P.LEVELS.filter((l) => P.levelRank(l) <= P.levelRank(ctx.node.level)).reverse()
  let level = query.get('level') ?? ''
  const input = h('input', {
    type: 'search', id: 'item-q', name: 'q', value: query.get('q') ?? '', autocomplete: 'off', spellcheck: 'false', autofocus: true,
    placeholder: t('items.placeholder'), 'aria-describedby': 'item-hint', 'aria-controls': 'item-results',
  })
  const count = h('p', { class: 'result-count', 'aria-live': 'polite', id: 'item-count' })
  const list = h('div', { id: 'item-results', 'aria-label': t('items.results') })
  const segs = h('div', { class: 'segmented level-filter', role: 'group', 'aria-label': t('items.byLevel') })

  const keepQuery = () => {
    const p = new URLSearchParams()
    if (input.value) p.set('q', input.value)
    if (level) p.set('level', level)
    remember('/items', p.size ? '?' + p : '')
  }
  const update = () => {
    const found = searchItems(items, input.value, level)
    count.textContent = input.value.trim() ? t('items.found', { n: found.length }) : t('items.all', { n: found.length })
    if (!found.length) {
      mount(list, h('div', { class: 'empty card' }, h('div', { class: 'big' }, t('items.none')), h('div', null, t('items.noneHint'))))
    } else if (input.value.trim()) {
      mount(list, h('ul', { class: 'results' }, found.map((item) => resultCard(item, input.value))))
    } else {
      // Nothing typed: the whole list, nearest level first, in groups.
      mount(list, levels.filter((l) => found.some((i) => i.level === l)).map((l) => h('section', { class: 'level-group', 'aria-label': levelName(l) },
        h('h2', null, levelTag(l), ' ', t('items.group', { level: levelName(l), n: found.filter((i) => i.level === l).length })),
        h('ul', { class: 'results' }, found.filter((i) => i.level === l).map((item) => resultCard(item, ''))))))
    }
    mount(segs, ['', ...levels].map((l) => h('button', {
      type: 'button', 'aria-pressed': String(level === l),
      onclick: () => {
        level = l
        keepQuery()
        update()
      },
    }, l ? levelName(l) : t('items.allLevels'))))
  }
  input.addEventListener('input', () => {
    keepQuery()
    update()
  })
  input.addEventListener('keydown', (e) => {
    const first = list.querySelector('a.result')
    if (e.key === 'Enter' && first) {
      e.preventDefault()
      go(first.getAttribute('href'))
    } else if (e.key === 'ArrowDown' && first) {
      e.preventDefault()
      first.focus()
    }
  })
  list.addEventListener('keydown', (e) => {
    if (e.key !== 'ArrowDown' && e.key !== 'ArrowUp') return
    const links = [...list.querySelectorAll('a.result')]
    const i = links.indexOf(document.activeElement)
    if (i === -1) return
    e.preventDefault()
    if (e.key === 'ArrowUp' && i === 0) input.focus()
    else links[Math.max(0, Math.min(links.length - 1, i + (e.key === 'ArrowDown' ? 1 : -1)))].focus()
  })
  update()

  return h('div', null,
    h('section', { class: 'search-hero' },
      h('h1', null, t('items.title')),
      h('div', { class: 'search-box' },
        h('label', { class: 'sr-only', htmlFor: 'item-q' }, t('items.placeholder')),
        h('span', { class: 'icon', 'aria-hidden': 'true' }), input),
      h('p', { class: 'search-hint', id: 'item-hint' }, t('items.hint1'), h('kbd', null, 'jzzm'), t('items.hint2'), h('kbd', null, 'V-001'), t('items.hint3'),
        h('kbd', null, 'Enter'), t('items.hint4'), h('kbd', null, '↓'), t('items.hint5')),
      segs),
    count, list)
}

function resultCard(item, q) {
  const field = matchedField(item, q)
  const handler = P.handlerFor(ctx.node.code, item)
  const here = handler === ctx.node.code
  return h('li', null, h('a', { class: 'result', href: '#/items/' + encodeURIComponent(item.code), dataset: { code: item.code } },
    h('span', { class: 'name' }, field === 'name' ? highlight(item.name, q) : item.name),
    h('span', { class: 'meta' },
      levelTag(item.level), kindTag(item),
      h('span', { class: 'mono nowrap' }, field === 'code' ? highlight(item.code, q) : item.code,
        item.pinyin ? [' · ', field === 'pinyin' ? highlight(item.pinyin, q) : item.pinyin] : null)),
    h('span', { class: 'dept' }, item.department, ' · ', here ? t('items.decidedHere') : t('items.forwardTo', { level: levelName(item.level) }))))
}
