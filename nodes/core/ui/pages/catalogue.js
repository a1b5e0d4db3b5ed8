/**
 * The catalogue editor (事项目录管理) for the administrators of the publishing node: add, change
 * and retire items, import a spreadsheet (CSV), export the list. Every change bumps the item's
 * version and goes down the tree to every window below.
 */
import { remember } from '../app.js'
import { api, qs } from '../lib/api.js'
import { ctx, forgetCatalogue, P } from '../lib/ctx.js'
import { toCsv } from '../lib/csv.js'
import { confirmDialog, download, h, mount, toast } from '../lib/dom.js'
import { t } from '../lib/i18n.js'
import { kindTag, levelName, levelTag, unitLabel } from '../lib/format.js'
import { loadUnits } from '../lib/units.js'
import { searchItems } from '../lib/search.js'

const CSV_HEADER = ['code', 'name', 'department', 'level', 'kind', 'legalDays', 'promisedDays', 'materials', 'fee', 'online', 'maxVisits', 'pinyin', 'resultKind', 'parallel']

/**
 * Every item this node publishes, whatever level decides it (`all=true`), retired ones too.
 * (A node that ignores `all` answers with the items its own windows take in.)
 */
async function published() {
  return (await api('GET', '/api/catalogue?retired=true&all=true')).items
}

export async function render(_params, query) {
  if (ctx.user.role !== 'admin') throw new Error(t('err.adminOnly'))
  let items = await published()
  await loadUnits({ need: items.map((i) => i.scope) })
  let q = query.get('q') ?? ''
  let level = query.get('level') ?? ''
  let showRetired = query.get('retired') === '1'
  const body = h('div')
  const result = h('div', { 'aria-live': 'polite' })

  const draw = () => {
    remember('/catalogue', qs({ q, level, retired: showRetired ? '1' : '' }))
    const shown = (q ? searchItems(items.map((i) => ({ ...i, retired: false })), q, level).map((i) => items.find((x) => x.code === i.code)) : items.filter((i) => !level || i.level === level))
      .filter((i) => showRetired || !i.retired)
    mount(body, h('div', { class: 'table-wrap' }, h('table', { class: 'table', dataset: { table: 'catalogue' } },
      h('caption', { class: 'sr-only' }, t('cat.title')),
      h('thead', null, h('tr', null, [t('cat.code'), t('cat.name'), t('cat.level'), t('cat.kind'), t('cat.days'), t('cat.materials'), t('cat.version'), t('cat.state'), ''].map((x) => h('th', { scope: 'col' }, x)))),
      h('tbody', null, shown.map((i) => h('tr', { class: i.retired ? 'retired' : null, dataset: { code: i.code } },
        h('td', { class: 'mono' }, i.code),
        h('td', null, h('div', { class: 'nm' }, i.name), h('div', { class: 'small muted' }, i.department)),
        h('td', null, levelTag(i.level)),
        h('td', null, kindTag(i)),
        h('td', { class: 'nowrap' }, `${i.promisedDays} / ${i.legalDays}`),
        h('td', { class: 'nowrap' }, t('cat.matCount', { n: i.materials.length, r: i.materials.filter((m) => m.required).length })),
        h('td', null, 'v' + i.version),
        h('td', null, i.retired ? h('span', { class: 'tag' }, t('cat.retired')) : h('span', { class: 'tag instant' }, t('cat.active'))),
        // Only the node that publishes an item changes it (a county changes its local list, not the city's).
        h('td', { class: 'nowrap' }, i.scope !== ctx.node.code
          ? h('span', { class: 'muted small', dataset: { publishedBy: i.scope } }, t('cat.publishedBy', { unit: unitLabel(i.scope) }))
          : [h('a', { class: 'btn secondary small', href: '#/catalogue/edit/' + encodeURIComponent(i.code) }, t('cat.edit')), ' ',
            i.retired
              ? h('button', { class: 'btn ghost small', type: 'button', onclick: () => void setRetired(i, false) }, t('cat.restore'))
              : h('button', { class: 'btn ghost small', type: 'button', dataset: { action: 'retire' }, onclick: () => void setRetired(i, true) }, t('cat.retire'))])))))),
    h('p', { class: 'muted small', style: { marginTop: '10px' } }, t('cat.count', { n: shown.length, all: items.length })))
  }

  const reload = async () => {
    forgetCatalogue()
    items = await published()
    draw()
  }

  const setRetired = async (item, retired) => {
    if (retired && !(await confirmDialog({ title: t('cat.retireTitle', { name: item.name }), body: t('cat.retireBody'), ok: t('cat.retire'), cancel: t('cancel'), danger: true }))) return
    try {
      if (retired) await api('POST', `/api/catalogue/items/${encodeURIComponent(item.code)}/retire`)
      else await api('PATCH', `/api/catalogue/items/${encodeURIComponent(item.code)}`, { retired: false })
      toast(retired ? t('cat.retiredOk', { name: item.name }) : t('cat.restoredOk', { name: item.name }))
      await reload()
    } catch (x) {
      toast(x.message, 'error')
    }
  }

  const importCsv = async (file) => {
    if (!file) return
    try {
      const text = await file.text()
      const r = await api('POST', '/api/catalogue/import', text, { type: 'text/csv' })
      mount(result, h('div', { class: 'notice ok', role: 'status' }, t('cat.imported', { file: file.name, added: r.added, changed: r.changed, unchanged: r.unchanged })))
      await reload()
    } catch (x) {
      const problems = x.details?.problems
      mount(result, h('div', { class: 'notice error', role: 'alert' },
        h('h3', null, t('cat.importFailed', { file: file.name })),
        problems ? h('ul', null, problems.map((p) => h('li', null, p))) : h('p', null, x.message)))
    }
  }

  const exportCsv = () => {
    const rows = [CSV_HEADER, ...items.filter((i) => !i.retired).map((i) => [i.code, i.name, i.department, i.level, i.kind, i.legalDays, i.promisedDays,
      i.materials.map((m) => m.name + (m.required ? (m.deferrable ? '*+' : '*') : '')).join(';'), i.fee, i.online, i.maxVisits, i.pinyin ?? '', i.resultKind ?? 'licence',
      (i.parallel ?? []).map((d) => `${d.department}:${d.days}`).join(';')])]
    download(`catalogue-${ctx.node.code}.csv`, toCsv(rows))
  }

  const search = h('input', { type: 'search', value: q, placeholder: t('cat.search'), 'aria-label': t('cat.search'), oninput: (e) => ((q = e.target.value), draw()) })
  const levelSel = h('select', { 'aria-label': t('cat.level'), onchange: (e) => ((level = e.target.value), draw()) },
    h('option', { value: '' }, t('items.allLevels')), P.LEVELS.map((l) => h('option', { value: l, selected: l === level }, levelName(l))))
  const fileInput = h('input', { type: 'file', accept: '.csv,text/csv', id: 'cat-import', onchange: (e) => void importCsv(e.target.files[0]).finally(() => (e.target.value = '')) })
  draw()

  return h('div', null,
    h('div', { class: 'page-head' },
      h('div', null, h('h1', null, t('cat.title')), h('p', { class: 'sub' }, t('cat.lead', { name: ctx.node.name }))),
      h('div', { class: 'actions' },
        h('a', { class: 'btn', href: '#/catalogue/new', dataset: { action: 'new-item' } }, t('cat.new')),
        h('label', { class: 'btn secondary file-btn', htmlFor: 'cat-import' }, t('cat.import'), fileInput),
        h('button', { class: 'btn secondary', type: 'button', onclick: exportCsv }, t('cat.export')))),
    result,
    h('div', { class: 'toolbar' }, search, levelSel,
      h('label', { class: 'check' }, h('input', { type: 'checkbox', checked: showRetired, onchange: (e) => ((showRetired = e.target.checked), draw()) }), t('cat.showRetired')),
      h('span', { class: 'spacer' }), h('span', { class: 'muted small' }, t('cat.csvHint'))),
    body)
}
