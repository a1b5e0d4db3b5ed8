/**
 * Keeps this node's warnings document (`watch:<code>`, 电子监察) current: the warnings of the
 * cases it handles, which go up to every ancestor's supervisor. The cost follows what changed:
 * a case is re-checked when one of its updates is stored, and when the day comes on which its
 * warnings change by time alone (case_watch.next_check, indexed) — never by scanning all cases.
 */
import {
  canonicalJson, detectWarnings, localDate, WARNING_TYPES, warningKey, type Application, type CatalogueItem, type Folded, type Warning, type WorkingDays,
} from '../../../protocol/index.ts'
import { caseDocId, foldDoc } from '../docs/case-doc.ts'
import type { DocStore } from '../docs/doc-store.ts'
import type { Db } from '../store/db.ts'
import type { Trust } from '../trust/trust.ts'

export const watchDocId = (code: string): string => `watch:${code}`

export class Watcher {
  private readonly dirty = new Set<string>()
  private timer: NodeJS.Timeout | null = null
  private readonly interval: NodeJS.Timeout
  private running: Promise<void> = Promise.resolve()
  private closed = false

  constructor(
    private readonly db: Db,
    private readonly docs: DocStore,
    private readonly trust: Trust,
    private readonly days: () => WorkingDays,
    private readonly self: { code: string; name: string },
    private readonly now: () => Date,
    private readonly delayMs = 1_000,
  ) {
    docs.on('update', (u) => {
      this.heardSeq = Math.max(this.heardSeq, u.seq)
      if (!u.docId.startsWith('case:')) return
      this.dirty.add(u.docId.slice('case:'.length))
      this.schedule()
    })
    // The day turns (and yellow turns red) without any case changing.
    this.interval = setInterval(() => void this.due().catch((e) => console.error(`[${self.code}] supervision check failed:`, e)), 5 * 60_000)
    this.interval.unref()
  }

  /**
   * The highest stored update heard of, and the one up to which every changed case is known to
   * be checked (node_meta `watch_seq`, saved when nothing is queued): a start queues only the
   * cases changed after it — a stop with checks still queued, a power cut — not a year of cases.
   */
  private heardSeq = 0
  private savedSeq = 0
  /** A flush failed: the cases it held were dropped unchecked, so `watch_seq` stays put until the next start. */
  private failed = false

  /**
   * At start: the cases changed since `watch_seq`, and those due. Without `watch_seq` (the first
   * start with this code, or a store from before 电子监察) every case handled here that was never
   * checked, once. (A PostgreSQL store shared by several processes: an update another process
   * committed late, under a lower seq, is re-checked with its case's next change or due date.)
   */
  async start(): Promise<void> {
    const [top] = await this.db.query<{ s: number | null }>('SELECT max(seq)::float8 AS s FROM doc_updates')
    const [saved] = await this.db.query<{ value: string }>(`SELECT value FROM node_meta WHERE key = 'watch_seq'`)
    const rows = saved
      ? await this.db.query<{ id: string }>(
        `SELECT DISTINCT substr(doc_id, 6) AS id FROM doc_updates WHERE seq > $1 AND doc_id >= 'case:' AND doc_id < 'case;'`, [Number(saved.value)])
      : await this.db.query<{ id: string }>(
        'SELECT id FROM cases c WHERE handler_code = $1 AND NOT EXISTS (SELECT 1 FROM case_watch w WHERE w.case_id = c.id)', [this.self.code])
    this.savedSeq = saved ? Number(saved.value) : 0
    this.heardSeq = Math.max(this.heardSeq, Number(top?.s ?? 0))
    for (const r of rows) this.dirty.add(r.id)
    await this.due()
    if (!this.dirty.size) await this.saveSeq()
  }

  /** Nothing queued: every case changed up to the last update heard of is checked. */
  private async saveSeq(): Promise<void> {
    if (this.failed || this.dirty.size || this.heardSeq <= this.savedSeq) return
    const seq = this.heardSeq
    await this.db.query(`INSERT INTO node_meta (key, value) VALUES ('watch_seq', $1) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`, [String(seq)])
    this.savedSeq = seq
  }

  /** Queues the cases whose warnings may have changed with the date. */
  async due(): Promise<void> {
    const today = localDate(this.now())
    const rows = await this.db.query<{ case_id: string }>('SELECT case_id FROM case_watch WHERE next_check IS NOT NULL AND next_check <= $1', [today])
    for (const r of rows) this.dirty.add(r.case_id)
    if (this.dirty.size) this.schedule()
  }

  private schedule(): void {
    if (this.timer || this.closed) return
    this.timer = setTimeout(() => {
      this.timer = null
      this.running = this.running.then(() => this.flush()).catch((e) => console.error(`[${this.self.code}] supervision refresh failed:`, e))
    }, this.delayMs)
  }

  /** Re-checks the queued cases and writes what changed into the warnings document, in one update. */
  async flush(): Promise<void> {
    const ids = [...this.dirty].slice(0, 500)
    for (const id of ids) this.dirty.delete(id)
    if (!ids.length) return
    const today = localDate(this.now())
    // Only the cases handled here, or checked here before (a transfer away must clear them): a
    // case this node only relays or took in for another unit is the handler's to watch.
    try {
      const mine = await this.db.query<{ id: string }>(
        `SELECT c.id FROM cases c WHERE c.id = ANY($1::text[])
           AND (c.handler_code = $2 OR EXISTS (SELECT 1 FROM case_watch w WHERE w.case_id = c.id))`, [ids, this.self.code])
      const found = new Map<string, { warnings: Warning[]; nextCheck: string | null }>()
      const held = new Map<string, { app: Application; folded: Folded } | null>()
      for (const { id } of mine) held.set(id, foldDoc(await this.docs.get(caseDocId(id)), this.trust, this.days()))
      // The catalogue items of the whole pass in one read (a catch-up of 1,000 cases was 1,000 reads of a few items).
      const codes = [...new Set([...held.values()].flatMap((h) => (h ? [h.app.itemCode] : [])))]
      const items = new Map((codes.length
        ? await this.db.query<{ code: string; body: CatalogueItem }>('SELECT code, body FROM catalogue_items WHERE code = ANY($1::text[])', [codes])
        : []).map((r) => [r.code, r.body]))
      for (const [id, h] of held) found.set(id, this.check(h, items, today))
      if (found.size) await this.write(found)
    } catch (e) {
      this.failed = true
      throw e
    }
    if (this.dirty.size) this.schedule()
    else await this.saveSeq()
  }

  /** Writes what the checks found into the warnings document (one update) and each case's next check. */
  private async write(found: Map<string, { warnings: Warning[]; nextCheck: string | null }>): Promise<void> {
    await this.docs.change(watchDocId(this.self.code), (doc) => {
      const map = doc.getMap<Warning>('warnings')
      for (const [id, { warnings }] of found) {
        for (const type of WARNING_TYPES) {
          const key = warningKey({ caseId: id, type })
          const want = warnings.find((w) => w.type === type)
          const have = map.get(key)
          if (want && (!have || canonicalJson(have) !== canonicalJson(want))) map.set(key, want)
          else if (!want && have) map.delete(key)
        }
      }
      const meta = doc.getMap<string>('meta')
      if (meta.get('name') !== this.self.name) meta.set('name', this.self.name)
    })
    await this.db.query(
      `INSERT INTO case_watch (case_id, next_check) SELECT c->>'id', c->>'next' FROM jsonb_array_elements($1::jsonb) AS c
       ON CONFLICT (case_id) DO UPDATE SET next_check = EXCLUDED.next_check`,
      [JSON.stringify([...found].map(([id, f]) => ({ id, next: f.nextCheck })))],
    )
  }

  /** The warnings of one case as folded, when this node handles it now (none otherwise: a transfer took it away). */
  private check(held: { app: Application; folded: Folded } | null, items: Map<string, CatalogueItem>, today: string): { warnings: Warning[]; nextCheck: string | null } {
    if (!held) return { warnings: [], nextCheck: null }
    const { app, folded } = held
    if ((folded.handlerCode ?? app.handlerCode) !== this.self.code) return { warnings: [], nextCheck: null }
    return detectWarnings({ app, folded, item: items.get(app.itemCode) ?? null, unit: this.self.code, today, days: this.days() })
  }

  /** Waits for the queued checks (tests, and a clean stop). */
  async settle(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer)
      this.timer = null
      this.running = this.running.then(() => this.flush())
    }
    await this.running
  }

  async close(): Promise<void> {
    this.closed = true
    if (this.timer) clearTimeout(this.timer)
    clearInterval(this.interval)
    await this.running.catch(() => {})
    // Updates heard since the last save that queued nothing (statistics, the warnings document) need no re-read at the next start.
    await this.saveSeq().catch(() => {})
  }
}
