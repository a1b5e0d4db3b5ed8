/**
 * The holiday calendar (节假日安排): which weekdays rest (法定节假日) and which weekend days are
 * worked (调休上班). Every due date in the tree counts working days by it, so it is published
 * with the catalogue. A year at a glance; each day is a button that cycles its state.
 */
import { api } from '../lib/api.js'
import { ctx, loadCalendars } from '../lib/ctx.js'
import { h, mount, toast } from '../lib/dom.js'
import { t } from '../lib/i18n.js'

export async function render(_params, query) {
  if (ctx.user.role !== 'admin') throw new Error(t('err.adminOnly'))
  await loadCalendars()
  const thisYear = new Date().getFullYear()
  let year = Number(query.get('year')) || thisYear
  let holidays = new Map()
  let workdays = new Map()
  let dirty = false
  const root = h('div')
  const nameInput = h('input', { type: 'text', id: 'cal-name', value: '', placeholder: t('cal.namePh') })

  const loadYear = () => {
    const cal = ctx.calendars.find((c) => c.year === year)
    holidays = new Map((cal?.holidays ?? []).map((d) => [d.date, d.name]))
    workdays = new Map((cal?.workdays ?? []).map((d) => [d.date, d.name]))
    dirty = false
  }

  const cycle = (date, weekend) => {
    const name = nameInput.value.trim() || t('cal.defaultName')
    if (weekend) {
      if (workdays.has(date)) workdays.delete(date)
      else if (holidays.has(date)) holidays.delete(date)
      else workdays.set(date, name)
    } else if (holidays.has(date)) holidays.delete(date)
    else holidays.set(date, name)
    dirty = true
    draw(date)
  }

  const save = async () => {
    const body = {
      year,
      holidays: [...holidays].sort().map(([date, name]) => ({ date, name })),
      workdays: [...workdays].sort().map(([date, name]) => ({ date, name })),
    }
    try {
      await api('PUT', '/api/catalogue/calendars', body)
      await loadCalendars()
      dirty = false
      toast(t('cal.saved', { year }))
      draw()
    } catch (x) {
      toast(x.message, 'error')
    }
  }

  const draw = (focusDate) => {
    const months = Array.from({ length: 12 }, (_, m) => month(year, m, holidays, workdays, cycle))
    const groups = new Map()
    for (const [date, name] of holidays) groups.set(name, [...(groups.get(name) ?? []), date])
    mount(root,
      h('div', { class: 'page-head' },
        h('div', null, h('h1', null, t('cal.title', { year })), h('p', { class: 'sub' }, t('cal.lead'))),
        h('div', { class: 'actions' },
          h('button', { class: 'btn secondary', type: 'button', onclick: () => ((year -= 1), loadYear(), draw()) }, '‹ ' + (year - 1)),
          h('button', { class: 'btn secondary', type: 'button', onclick: () => ((year += 1), loadYear(), draw()) }, (year + 1) + ' ›'),
          h('button', { class: 'btn', type: 'button', disabled: !dirty, onclick: () => void save(), dataset: { action: 'save-calendar' } }, t('cal.save')))),
      dirty ? h('div', { class: 'notice warn' }, t('cal.unsaved')) : null,
      h('div', { class: 'card' },
        h('div', { class: 'row' },
          h('div', { class: 'field', style: { margin: '0', minWidth: '260px' } }, h('label', { htmlFor: 'cal-name' }, t('cal.name')), nameInput),
          h('div', { class: 'legend' },
            h('span', null, h('span', { class: 'sw', style: { background: 'var(--bad-soft)' } }), t('cal.holiday')),
            h('span', null, h('span', { class: 'sw', style: { background: 'var(--brand-soft)' } }), t('cal.workday')),
            h('span', null, h('span', { class: 'sw', style: { background: '#f4f6f9' } }), t('cal.weekend')))),
        h('p', { class: 'muted small', style: { marginTop: '10px' } }, t('cal.how')),
        h('p', { class: 'small' }, t('cal.summary', { h: holidays.size, w: workdays.size }),
          [...groups].map(([name, dates]) => h('span', { class: 'tag', style: { marginLeft: '6px' } }, `${name} ${dates.length}`)))),
      h('div', { class: 'months' }, months))
    if (focusDate) root.querySelector(`[data-date="${focusDate}"]`)?.focus()
  }

  loadYear()
  draw()
  return root
}

function month(year, m, holidays, workdays, cycle) {
  const first = new Date(Date.UTC(year, m, 1))
  const days = new Date(Date.UTC(year, m + 1, 0)).getUTCDate()
  const lead = (first.getUTCDay() + 6) % 7 // Monday first
  const cells = []
  for (let i = 0; i < lead; i++) cells.push(h('span'))
  for (let d = 1; d <= days; d++) {
    const date = `${year}-${String(m + 1).padStart(2, '0')}-${String(d).padStart(2, '0')}`
    const dow = new Date(date + 'T00:00:00Z').getUTCDay()
    const weekend = dow === 0 || dow === 6
    const state = holidays.has(date) ? 'holiday' : workdays.has(date) ? 'workday' : weekend ? 'rest' : 'normal'
    const label = `${date} ${state === 'holiday' ? t('cal.holiday') + ' ' + holidays.get(date) : state === 'workday' ? t('cal.workday') + ' ' + workdays.get(date) : weekend ? t('cal.weekend') : t('cal.normal')}`
    cells.push(h('button', { type: 'button', class: state, dataset: { date }, 'aria-label': label, title: label, onclick: () => cycle(date, weekend) }, String(d)))
  }
  return h('section', { class: 'month' },
    h('h3', null, t('cal.month', { y: year, m: m + 1 })),
    h('div', { class: 'dow', 'aria-hidden': 'true' }, [1, 2, 3, 4, 5, 6, 0].map((d) => h('span', null, t('dowShort.' + d)))),
    h('div', { class: 'days' }, cells))
}
