/**
 * The catalogue as this node applies it (实施清单): items from every catalogue document it
 * holds, and edits to the document this node publishes (the city's catalogue, a county's local
 * list). A change bumps the item's version; retiring keeps the item (and its old cases) valid.
 */
import {
  CatalogueItemInputSchema, CatalogueItemPatchSchema, CatalogueItemSchema, CatalogueFileSchema,
  takesIn, type Calendar, type CatalogueItem, type Level, CalendarSchema,
} from '../../../protocol/index.ts'
import { catalogueDocId, readItem, writeCalendar, writeItem } from '../docs/catalogue-doc.ts'
import type { DocStore } from '../docs/doc-store.ts'
import { ApiError, parseOr400 } from '../errors.ts'
import type { Db } from '../store/db.ts'
import { parseCatalogueCsv } from './catalogue-csv.ts'

export class CatalogueService {
  constructor(
    private readonly db: Db,
    private readonly docs: DocStore,
    private readonly self: { code: string; level: Level },
  ) {
    docs.on('update', (u) => {
      if (u.docId.startsWith('catalogue:')) this.cache = null
    })
  }

  /**
   * Items this node's windows take in: handled at its level or above; retired ones on request;
   * `all` adds the items decided below (what a publishing admin edits).
   */
  async list(opts: { includeRetired?: boolean; all?: boolean } = {}): Promise<CatalogueItem[]> {
    const rows = await this.db.query<{ body: CatalogueItem }>('SELECT body FROM catalogue_items ORDER BY code')
    return rows.map((r) => r.body).filter((i) => (opts.all || takesIn(this.self.level, i)) && (opts.includeRetired || !i.retired))
  }

  /** Items by code, read once and dropped whenever a catalogue document changes (intake reads an item every time). */
  private cache: Map<string, CatalogueItem> | null = null

  async get(code: string): Promise<CatalogueItem | null> {
    if (!this.cache) {
      const rows = await this.db.query<{ body: CatalogueItem }>('SELECT body FROM catalogue_items')
      this.cache = new Map(rows.map((r) => [r.body.code, r.body]))
    }
    return this.cache.get(code) ?? null
  }

  /** Adds an item, or replaces one with a new version. */
  async put(input: unknown): Promise<{ item: CatalogueItem; created: boolean }> {
    const parsed = parseOr400(CatalogueItemInputSchema, input, 'catalogue item')
    const { result } = await this.docs.change(catalogueDocId(this.self.code), (doc) => {
      const old = readItem(doc, parsed.code)
      const item = CatalogueItemSchema.parse({ ...parsed, scope: this.self.code, version: (old?.version ?? 0) + 1 })
      if (old && sameItem(old, item)) return { item: old, created: false }
      writeItem(doc, item)
      return { item, created: !old }
    })
    return result
  }

  /** Changes some fields of an item this node publishes; bumps its version. */
  async patch(code: string, input: unknown): Promise<CatalogueItem> {
    const patch = parseOr400(CatalogueItemPatchSchema, input, 'catalogue change')
    const { result } = await this.docs.change(catalogueDocId(this.self.code), (doc) => {
      const old = readItem(doc, code)
      if (!old) throw new ApiError('not_found', `no item ${code} in the catalogue published here (${this.self.code})`)
      const next = parseOr400(CatalogueItemSchema, { ...old, ...patch, code, version: old.version + 1 }, 'catalogue item')
      writeItem(doc, next)
      return next
    })
    return result
  }

  /** Imports many items (JSON catalogue file or CSV) in one change; returns how many changed. */
  async import(body: string, format: 'json' | 'csv'): Promise<{ added: number; changed: number; unchanged: number }> {
    const file = format === 'csv'
      ? { items: parseCatalogueCsv(body), calendars: [] as Calendar[] }
      : parseOr400(CatalogueFileSchema, safeJson(body), 'catalogue file')
    const counts = { added: 0, changed: 0, unchanged: 0 }
    await this.docs.change(catalogueDocId(this.self.code), (doc) => {
      for (const input of file.items) {
        const old = readItem(doc, input.code)
        const item = { ...input, scope: this.self.code, version: (old?.version ?? 0) + 1 }
        if (old && sameItem(old, item)) counts.unchanged++
        else {
          writeItem(doc, item)
          counts[old ? 'changed' : 'added']++
        }
      }
      for (const cal of file.calendars) writeCalendar(doc, cal)
    })
    return counts
  }

  async setCalendar(input: unknown): Promise<Calendar> {
    const cal = parseOr400(CalendarSchema, input, 'calendar')
    await this.docs.change(catalogueDocId(this.self.code), (doc) => writeCalendar(doc, cal))
    return cal
  }

  async calendars(): Promise<Calendar[]> {
    return (await this.db.query<{ body: Calendar }>('SELECT body FROM calendars ORDER BY year')).map((r) => r.body)
  }
}

/** Equal but for the version: re-importing the same file changes nothing. */
function sameItem(a: CatalogueItem, b: CatalogueItem): boolean {
  const strip = ({ version: _v, ...rest }: CatalogueItem) => canonical(rest)
  return strip(a) === strip(b)
}

/** JSON with object keys sorted at every depth, for comparing values. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>
    return `{${Object.keys(o).filter((k) => o[k] !== undefined).sort().map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`).join(',')}}`
  }
  return JSON.stringify(v)
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch (e) {
    throw new ApiError('bad_request', `the catalogue file is not valid JSON: ${(e as Error).message}`)
  }
}
