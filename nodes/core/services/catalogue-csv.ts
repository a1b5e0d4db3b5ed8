/**
 * CSV import of catalogue items, as a city admin exports them from a spreadsheet.
 * Header: code,name,department,level,kind,legalDays,promisedDays,materials,fee,online,maxVisits,pinyin[,resultKind]
 * `materials` lists names separated by `;` (or `；`), a trailing `*` marking a required one and
 * `*+` a required one that may be deferred (容缺): `居民身份证*;经营场所证明*+;近期免冠照片`.
 * `resultKind` (licence, certificate, benefit) is optional: licence. `parallel` (并联审批) is optional: the
 * departments and their working days, `自然资源所:3;农业农村办:5`. Quoted fields may hold commas, quotes doubled.
 */
import { CatalogueItemInputSchema, type CatalogueItem } from '../../../protocol/index.ts'
import { ApiError } from '../errors.ts'

export const CSV_COLUMNS = ['code', 'name', 'department', 'level', 'kind', 'legalDays', 'promisedDays', 'materials', 'fee', 'online', 'maxVisits', 'pinyin', 'resultKind', 'parallel'] as const

/** Splits CSV text into rows of fields (RFC 4180 quoting). */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = []
  let row: string[] = []
  let field = ''
  let quoted = false
  const src = text.replace(/^\uFEFF/, '') // Excel's BOM
  for (let i = 0; i < src.length; i++) {
    const ch = src[i]
    if (quoted) {
      if (ch === '"' && src[i + 1] === '"') (field += '"'), i++
      else if (ch === '"') quoted = false
      else field += ch
    } else if (ch === '"') quoted = true
    else if (ch === ',') row.push(field), (field = '')
    else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && src[i + 1] === '\n') i++
      row.push(field), rows.push(row), (row = []), (field = '')
    } else field += ch
  }
  if (field !== '' || row.length) row.push(field), rows.push(row)
  return rows.filter((r) => r.some((f) => f.trim() !== ''))
}

/** Parses catalogue CSV into items (without versions), or throws a 400 naming each bad row and field. */
export function parseCatalogueCsv(text: string): Omit<CatalogueItem, 'version'>[] {
  const [header, ...rows] = parseCsv(text)
  if (!header) throw new ApiError('bad_request', 'the CSV file is empty')
  const cols = header.map((h) => h.trim())
  const missing = CSV_COLUMNS.filter((c) => c !== 'pinyin' && c !== 'resultKind' && c !== 'parallel' && !cols.includes(c))
  if (missing.length) throw new ApiError('invalid_input', `the CSV header lacks column(s): ${missing.join(', ')}`)
  const problems: string[] = []
  const items: Omit<CatalogueItem, 'version'>[] = []
  rows.forEach((r, i) => {
    const get = (c: string) => (r[cols.indexOf(c)] ?? '').trim()
    const raw = {
      code: get('code'), name: get('name'), department: get('department'), level: get('level'), kind: get('kind'),
      legalDays: Number(get('legalDays')), promisedDays: Number(get('promisedDays')),
      materials: get('materials').split(/[;；]/).map((m) => m.trim()).filter(Boolean)
        .map((m) => ({ name: m.replace(/\*\+?$/, '').trim(), required: /\*\+?$/.test(m), ...(m.endsWith('*+') ? { deferrable: true } : {}) })),
      fee: get('fee') || undefined,
      online: /^(true|1|yes|是)$/i.test(get('online')),
      maxVisits: get('maxVisits') === '' ? undefined : Number(get('maxVisits')),
      pinyin: get('pinyin') || undefined,
      resultKind: get('resultKind') || undefined,
      parallel: parallelCell(get('parallel')),
      retired: false,
    }
    const p = CatalogueItemInputSchema.safeParse(raw)
    if (p.success) items.push(p.data)
    else problems.push(`row ${i + 2}: ${p.error.issues.map((x) => `${x.path.join('.')}: ${x.message}`).join('; ')}`)
  })
  if (problems.length) throw new ApiError('invalid_input', `the CSV has ${problems.length} bad row(s) — ${problems.join(' | ')}`, { problems })
  return items
}

/** `自然资源所:3;农业农村办:5` → the departments of a 并联 item (absent when empty); a part without its days is left for the schema to name. */
function parallelCell(cell: string): { department: string; days: number }[] | undefined {
  const parts = cell.split(/[;；]/).map((p) => p.trim()).filter(Boolean)
  if (!parts.length) return undefined
  return parts.map((p) => {
    const m = /^(.*?)[:：]\s*(\d+)$/.exec(p)
    return m ? { department: m[1].trim(), days: Number(m[2]) } : { department: p, days: Number.NaN }
  })
}
