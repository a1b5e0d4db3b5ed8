/**
 * Dashboards (统计): the rates every report quotes, for this node and everything below it,
 * by child unit, by item and by day; a ranking by satisfaction; the red and yellow cases;
 * ECharts charts; the table as CSV, with 异地件 and 转办 counts. Every figure is GET /api/stats
 * as the node computes it — the page divides nothing itself — counted where each case was taken
 * in (受理地) or where it is decided (办理地), as the toggle says.
 */
import { onLeave, remember } from '../app.js'
import { api, qs, unitNames } from '../lib/api.js'
import { ctx, itemOf, loadCatalogue, loadItems, today } from '../lib/ctx.js'
import { caseTable } from '../lib/case-table.js'
import { drawChart } from '../lib/charts.js'
import { toCsv } from '../lib/csv.js'
import { download, h, mount } from '../lib/dom.js'
import { t } from '../lib/i18n.js'
import { dueState, pct, ratingName, unitLabel } from '../lib/format.js'
import { loadUnits } from '../lib/units.js'

const RANGES = ['all', 'month', 'last30', 'year']
const TABS = ['child', 'item', 'day']
/** 受理地 (origin, the node's default) or 办理地 (handler). */
const DIMS = ['origin', 'handler']

function rangeDates(r) {
  const d = today()
  if (r === 'month') return { from: d.slice(0, 8) + '01', to: d }
  if (r === 'year') return { from: d.slice(0, 5) + '01-01', to: d }
  if (r === 'last30') return { from: new Date(Date.parse(d) - 29 * 86_400_000).toISOString().slice(0, 10), to: d }
  return { from: '', to: '' }
}

export async function render(_params, query) {
  await loadCatalogue()
  const state = {
    range: RANGES.includes(query.get('range')) ? query.get('range') : query.get('from') || query.get('to') ? 'custom' : 'all',
    from: query.get('from') ?? '',
    to: query.get('to') ?? '',
    tab: TABS.includes(query.get('tab')) ? query.get('tab') : 'child',
    under: query.get('under') ?? '',
    by: DIMS.includes(query.get('by')) ? query.get('by') : 'origin',
  }
  if (state.range !== 'custom') Object.assign(state, rangeDates(state.range))
  const root = h('div')
  let charts = []
  onLeave(() => charts.forEach((c) => c.dispose()))

  const load = async () => {
    remember('/dashboard', qs({
      range: state.range === 'all' || state.range === 'custom' ? '' : state.range,
      from: state.range === 'custom' ? state.from : '', to: state.range === 'custom' ? state.to : '',
      tab: state.tab === 'child' ? '' : state.tab, under: state.under, by: state.by === 'origin' ? '' : state.by,
    }))
    const base = { from: state.from, to: state.to, by: state.by }
    const [byChild, byItem, byDay, open] = await Promise.all([
      api('GET', '/api/stats' + qs({ ...base, groupBy: 'child', under: state.under })),
      // A drill-down scopes every figure: the items and the days of the unit drilled into.
      api('GET', '/api/stats' + qs({ ...base, groupBy: 'item', under: state.under })),
      api('GET', '/api/stats' + qs({ ...base, groupBy: 'day', under: state.under })),
      api('GET', '/api/cases' + qs({ status: 'submitted,accepted', limit: 1000 })),
    ])
    // Names for what the tables show: items decided below this level, units of the tree.
    await Promise.all([loadItems([...byItem.rows.map((r) => r.key), ...open.cases.map((c) => c.itemCode)]), loadUnits({ need: [...open.cases.map((c) => c.handlerCode), ...byChild.rows.map((r) => r.key)] })])
    // The statistics carry the names of the units and items they count, for those the directory
    // and this node's catalogue do not know (an item of a county's local list, seen at the city).
    learnMissing(byChild.names ?? {})
    itemNames = byItem.itemNames ?? {}
    // Drill-down needs the node to answer for a unit below it; only offered when it does.
    const drills = byChild.under !== undefined
    const warn = open.cases.filter((c) => dueState(c) !== 'ok' && dueState(c) !== 'none')
      .sort((a, b) => (a.dueDate < b.dueDate ? -1 : 1))
    charts.forEach((c) => c.dispose())
    charts = []
    draw({ byChild, byItem, byDay, warn, drills })
  }

  const draw = ({ byChild, byItem, byDay, warn, drills }) => {
    const tot = byChild.totals
    const anyRated = tot.ratings.some((n) => n > 0)
    const tables = { child: byChild, item: byItem, day: byDay }
    const chartEls = { day: h('div', { class: 'chart', role: 'img', 'aria-label': t('dash.chartDay') }), rank: h('div', { class: 'chart', role: 'img', 'aria-label': t('dash.chartRank') }),
      ratings: h('div', { class: 'chart', role: 'img', 'aria-label': t('dash.chartRatings') }), items: h('div', { class: 'chart', role: 'img', 'aria-label': t('dash.chartItems') }) }
    const tableBox = h('div')
    const tabBar = h('div', { class: 'segmented', role: 'tablist', 'aria-label': t('dash.table') })
    const drawTable = () => {
      mount(tabBar, TABS.map((k) => h('button', { type: 'button', role: 'tab', 'aria-selected': String(state.tab === k), 'aria-pressed': String(state.tab === k), dataset: { tab: k },
        onclick: () => ((state.tab = k), drawTable()) }, t('dash.by.' + k))))
      mount(tableBox, statsTable(tables[state.tab], state.tab, drills ? (code) => ((state.under = code), void load()) : null))
    }
    drawTable()
    const exportCsv = () => {
      const res = tables[state.tab]
      const rows = [[t('dash.col.key.' + state.tab), ...COLS.map((c) => t('dash.col.' + c))],
        ...res.rows.map((r) => [keyLabel(r.key, state.tab), ...COLS.map((c) => csvValue(r, c))]),
        [t('dash.total'), ...COLS.map((c) => csvValue(res.totals, c))]]
      download(`tongban-${ctx.node.code}-${state.by}-${state.tab}-${state.from || 'all'}-${state.to || today()}.csv`, toCsv(rows))
    }

    const fromI = h('input', { type: 'date', id: 'd-from', value: state.from })
    const toI = h('input', { type: 'date', id: 'd-to', value: state.to })
    mount(root,
      h('div', { class: 'page-head' },
        h('div', null,
          h('h1', null, t('dash.title')),
          h('p', { class: 'sub' }, state.under ? [t('dash.under', { unit: unitLabel(state.under) }), ' ', h('button', { class: 'btn ghost small', type: 'button', onclick: () => ((state.under = ''), void load()) }, t('dash.back'))]
            : t('dash.lead', { name: ctx.node.name }), ' · ', h('span', { dataset: { dim: state.by } }, t('dash.dim.' + state.by), '：', t('dash.dim.hint.' + state.by)))),
        h('div', { class: 'actions' }, h('button', { class: 'btn secondary', type: 'button', onclick: () => print() }, t('dash.print')))),
      h('div', { class: 'card filters no-print' },
        h('div', { class: 'field' }, h('span', { class: 'label', id: 'd-dim' }, t('dash.dim')),
          h('div', { class: 'segmented', role: 'group', 'aria-labelledby': 'd-dim' }, DIMS.map((d) => h('button', {
            type: 'button', 'aria-pressed': String(state.by === d), dataset: { by: d }, title: t('dash.dim.hint.' + d),
            onclick: () => ((state.by = d), void load()),
          }, t('dash.dim.' + d))))),
        h('div', { class: 'field' }, h('span', { class: 'label' }, t('dash.range')),
          h('div', { class: 'segmented', role: 'group', 'aria-label': t('dash.range') }, RANGES.map((r) => h('button', {
            type: 'button', 'aria-pressed': String(state.range === r), dataset: { range: r },
            onclick: () => {
              state.range = r
              Object.assign(state, rangeDates(r))
              void load()
            },
          }, t('dash.range.' + r))))),
        h('div', { class: 'field' }, h('label', { htmlFor: 'd-from' }, t('dash.from')), fromI),
        h('div', { class: 'field' }, h('label', { htmlFor: 'd-to' }, t('dash.to')), toI),
        h('button', { class: 'btn', type: 'button', onclick: () => {
          state.range = 'custom'
          state.from = fromI.value
          state.to = toI.value
          void load()
        } }, t('dash.apply'))),
      // Values from units below that were not valid statistics are left out of every figure
      // (GET /api/stats reports how many): say so, or the totals would look complete.
      byChild.skipped ? h('div', { class: 'notice warn', role: 'status', dataset: { skipped: String(byChild.skipped) } }, t('dash.skipped', { n: byChild.skipped })) : null,
      // Two levels down this node holds a unit's totals, not its items (README: where statistics are summed).
      byItem.notHeld ? h('div', { class: 'notice', role: 'status', dataset: { notHeld: byItem.notHeld } }, t('dash.notHeld')) : null,
      h('div', { class: 'kpis' },
        kpi('accepted', t('dash.k.accepted'), String(tot.accepted), tot.accepted, t('dash.k.acceptedSub', { n: tot.completed })),
        kpi('completionRate', t('dash.k.completion'), pct(tot.completionRate), tot.completionRate, null, true),
        kpi('onTimeRate', t('dash.k.onTime'), pct(tot.onTimeRate), tot.onTimeRate, null, true),
        kpi('onSpotRate', t('dash.k.onSpot'), pct(tot.onSpotRate), tot.onSpotRate, null, true),
        kpi('dailyRate', t('dash.k.daily'), pct(tot.dailyRate ?? null), tot.dailyRate ?? null, t('dash.k.dailySub'), true),
        kpi('earlyRate', t('dash.k.early'), pct(tot.earlyRate), tot.earlyRate, null, true),
        kpi('satisfactionRate', t('dash.k.satisfaction'), pct(tot.satisfactionRate), tot.satisfactionRate, t('dash.k.ratings', { n: tot.ratings.reduce((a, b) => a + b, 0) }), true),
        kpi('overdue', t('dash.k.overdue'), String(tot.overdue), tot.overdue, t('dash.k.overdueSub'), false, tot.overdue ? 'bad' : 'good'),
        kpi('dueSoon', t('dash.k.dueSoon'), String(tot.dueSoon), tot.dueSoon, t('dash.k.dueSoonSub'), false, tot.dueSoon ? 'warn' : 'good'),
        // 差评整改 and 容缺 (issue 9); a node not counting them yet answers none.
        kpi('badRatings', t('dash.col.badRatings'), String(tot.badRatings ?? 0), tot.badRatings ?? 0, t('dash.k.rectifiedSub', { n: tot.rectified ?? 0 }), false, tot.badRatings ? 'warn' : 'good'),
        kpi('rectificationRate', t('dash.col.rectificationRate'), pct(tot.rectificationRate ?? null), tot.rectificationRate ?? null, null, true),
        kpi('rectOverdue', t('dash.col.rectOverdue'), String(tot.rectOverdue ?? 0), tot.rectOverdue ?? 0, t('dash.k.rectOverdueSub'), false, tot.rectOverdue ? 'bad' : 'good'),
        kpi('deferred', t('dash.col.deferred'), String(tot.deferred ?? 0), tot.deferred ?? 0, t('dash.k.deferredSub', { n: tot.refused ?? 0 }))),
      h('div', { class: 'charts' },
        chartCard(t('dash.chartDay'), byDay.rows.length ? chartEls.day : emptyChart(t('dash.noData'))),
        chartCard(t('dash.chartRank'), anyRated ? chartEls.rank : emptyChart(t('dash.noRatings')), anyRated ? rankList(byChild.rows) : null),
        chartCard(t('dash.chartRatings'), anyRated ? chartEls.ratings : emptyChart(t('dash.noRatings'))),
        chartCard(t('dash.chartItems'), byItem.rows.length ? chartEls.items : emptyChart(t('dash.noData')))),
      h('section', { class: 'card', style: { marginTop: '20px' }, 'aria-labelledby': 'tbl-h' },
        h('div', { class: 'card-head' }, h('h2', { id: 'tbl-h' }, t('dash.table')), tabBar, h('span', { class: 'spacer' }),
          h('button', { class: 'btn secondary', type: 'button', onclick: exportCsv, dataset: { action: 'export-csv' } }, t('dash.csv'))),
        tableBox),
      h('section', { class: 'card', 'aria-labelledby': 'warn-h' },
        h('div', { class: 'card-head' }, h('h2', { id: 'warn-h' }, t('dash.warn')), h('span', { class: 'muted small' }, t('dash.warnLead'))),
        caseTable(warn, { caption: t('dash.warn'), empty: t('dash.warnNone') })))

    void Promise.all([
      byDay.rows.length ? drawChart(chartEls.day, dayOption(byDay.rows)) : null,
      anyRated ? drawChart(chartEls.rank, rankOption(byChild.rows)) : null,
      anyRated ? drawChart(chartEls.ratings, ratingsOption(tot.ratings)) : null,
      byItem.rows.length ? drawChart(chartEls.items, itemsOption(byItem.rows)) : null,
    ].filter(Boolean)).then((c) => charts.push(...c), (e) => console.error(e))
  }

  await load()
  return root
}

const COLS = ['accepted', 'completed', 'completionRate', 'onTimeRate', 'onSpotRate', 'dailyRate', 'earlyRate', 'satisfactionRate', 'rated', 'overdue', 'dueSoon', 'crossUnit', 'transferred', 'refused', 'deferred', 'badRatings', 'rectificationRate', 'rectOverdue']
const RATE = new Set(['completionRate', 'onTimeRate', 'onSpotRate', 'dailyRate', 'earlyRate', 'satisfactionRate', 'rectificationRate'])
// A node not yet counting 异地件 and 转办 answers rows without them: none.
const cellValue = (r, c) => (c === 'rated' ? r.ratings.reduce((a, b) => a + b, 0) : r[c] ?? 0)
const csvValue = (r, c) => (RATE.has(c) ? (r[c] === null ? '' : pct(r[c])) : cellValue(r, c))

/** Item names the last statistics answer carried (GET /api/stats?groupBy=item → itemNames). */
let itemNames = {}
const itemLabel = (code) => itemOf(code)?.name ?? itemNames[code] ?? code

function learnMissing(names) {
  for (const [code, name] of Object.entries(names)) if (name && name !== code && !unitNames.has(code)) unitNames.set(code, name)
}

function keyLabel(key, tab) {
  if (tab === 'item') return itemLabel(key)
  if (tab === 'child') return unitLabel(key)
  return key
}

function statsTable(res, tab, drill) {
  if (!res.rows.length) return h('div', { class: 'empty' }, h('div', { class: 'big' }, t('dash.noData')))
  return h('div', { class: 'table-wrap' }, h('table', { class: 'table', dataset: { table: 'stats-' + tab } },
    h('thead', null, h('tr', null, h('th', { scope: 'col' }, t('dash.col.key.' + tab)), COLS.map((c) => h('th', { scope: 'col', class: 'num' }, t('dash.col.' + c))))),
    h('tbody', null, res.rows.map((r) => h('tr', { dataset: { key: r.key } },
      h('th', { scope: 'row', title: tab === 'day' ? null : r.key }, drill && tab === 'child' && r.key !== ctx.node.code
        ? h('button', { class: 'btn ghost small', type: 'button', onclick: () => drill(r.key) }, keyLabel(r.key, tab), ' ›')
        : keyLabel(r.key, tab)),
      COLS.map((c) => h('td', { class: ['num', c === 'overdue' && r.overdue && 'bad'], dataset: { col: c } }, RATE.has(c) ? pct(r[c]) : String(cellValue(r, c))))))),
    h('tfoot', null, h('tr', { dataset: { key: 'total' } }, h('td', null, t('dash.total')), COLS.map((c) => h('td', { class: 'num', dataset: { col: c } }, RATE.has(c) ? pct(res.totals[c]) : String(cellValue(res.totals, c))))))))
}

function kpi(key, label, shown, raw, sub, isRate = false, tone = null) {
  const cls = tone ?? (isRate ? (raw === null ? '' : raw >= 0.95 ? 'good' : raw >= 0.8 ? '' : 'warn') : '')
  return h('div', { class: ['kpi', cls], dataset: { kpi: key, value: raw === null ? '' : String(raw) } },
    h('div', { class: 'k' }, label),
    h('div', { class: 'v' }, shown),
    isRate ? h('div', { class: 'bar', 'aria-hidden': 'true' }, h('span', { style: { width: raw === null ? '0' : `${Math.round(raw * 100)}%` } })) : null,
    sub ? h('div', { class: 'd' }, sub) : null)
}

function emptyChart(text) {
  return h('div', { class: 'chart empty-chart' }, h('span', null, text))
}

function chartCard(title, el, extra) {
  return h('section', { class: 'card chart-card' }, h('h2', null, title), el, extra ?? null)
}

function rankList(rows) {
  const ranked = rows.filter((r) => r.satisfactionRate !== null).sort((a, b) => b.satisfactionRate - a.satisfactionRate)
  if (!ranked.length) return h('p', { class: 'muted small' }, t('dash.noRatings'))
  return h('ol', { class: 'rank-list', 'aria-label': t('dash.chartRank') }, ranked.map((r) => h('li', null,
    h('span', { class: 'nm' }, unitLabel(r.key)), h('span', { class: 'muted small' }, t('dash.k.ratings', { n: r.ratings.reduce((a, b) => a + b, 0) })),
    h('span', { class: 'rate' }, pct(r.satisfactionRate)))))
}

const axisLabel = { color: '#3f4a5a', fontSize: 13 }

function dayOption(rows) {
  return {
    legend: { top: 0, data: [t('dash.col.accepted'), t('dash.col.completed')] },
    xAxis: { type: 'category', data: rows.map((r) => r.key.slice(5)), axisLabel },
    yAxis: { type: 'value', minInterval: 1, axisLabel },
    series: [
      { name: t('dash.col.accepted'), type: 'bar', data: rows.map((r) => r.accepted), barMaxWidth: 28, itemStyle: { borderRadius: [4, 4, 0, 0] } },
      { name: t('dash.col.completed'), type: 'line', data: rows.map((r) => r.completed), smooth: true, symbolSize: 8 },
    ],
  }
}

function rankOption(rows) {
  const ranked = rows.filter((r) => r.satisfactionRate !== null).sort((a, b) => a.satisfactionRate - b.satisfactionRate)
  return {
    grid: { left: 12, right: 48, top: 10, bottom: 12, containLabel: true },
    xAxis: { type: 'value', max: 100, axisLabel: { ...axisLabel, formatter: '{value}%' } },
    yAxis: { type: 'category', data: ranked.map((r) => unitLabel(r.key)), axisLabel },
    series: [{ type: 'bar', data: ranked.map((r) => Math.round(r.satisfactionRate * 1000) / 10), barMaxWidth: 26, label: { show: true, position: 'right', formatter: '{c}%' }, itemStyle: { color: '#14894a', borderRadius: [0, 4, 4, 0] } }],
  }
}

function ratingsOption(ratings) {
  const colors = ['#b3261e', '#e0702a', '#e0a100', '#5aa86f', '#14894a']
  return {
    legend: { bottom: 0 },
    series: [{
      type: 'pie', radius: ['42%', '68%'], center: ['50%', '45%'], avoidLabelOverlap: true,
      label: { formatter: '{b}: {c}' },
      data: [5, 4, 3, 2, 1].filter((n) => ratings[n - 1] > 0).map((n) => ({ name: ratingName(n), value: ratings[n - 1], itemStyle: { color: colors[n - 1] } })),
    }],
  }
}

function itemsOption(rows) {
  const top = [...rows].sort((a, b) => b.accepted - a.accepted).slice(0, 10).reverse()
  return {
    grid: { left: 12, right: 40, top: 10, bottom: 12, containLabel: true },
    xAxis: { type: 'value', minInterval: 1, axisLabel },
    yAxis: { type: 'category', data: top.map((r) => itemLabel(r.key)), axisLabel: { ...axisLabel, width: 180, overflow: 'truncate' } },
    series: [{ type: 'bar', data: top.map((r) => r.accepted), barMaxWidth: 22, label: { show: true, position: 'right' }, itemStyle: { borderRadius: [0, 4, 4, 0] } }],
  }
}

