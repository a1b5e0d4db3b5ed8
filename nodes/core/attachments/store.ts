/**
 * Scanned materials (附件) at this node: each file stored once, named by its SHA-256, in the
 * 16 KB pieces the link moves it in (migration 017). Adding one stores the bytes and records a
 * signed `attached` event on the case (so the case says which files it has, everywhere on its
 * path); the bytes follow in the link's attachment lane (link/attachment-lane.ts).
 */
import { createHash } from 'node:crypto'
import {
  AttachedInputSchema, DEFAULT_ATTACHMENT_LIMITS, MAX_ATTACHMENT_BYTES, PIECE_BYTES, pieceCount, sniffMime,
  type AttachedInput, type AttachmentLimits, type AttachmentMime, type AttachmentState, type CaseView,
} from '../../../protocol/index.ts'
import { ApiError, parseOr400 } from '../errors.ts'
import type { TongbanNode } from '../node.ts'
import type { Actor } from '../services/cases.ts'
import { toBytes, type Db } from '../store/db.ts'

export interface AttachmentView {
  hash: string
  name: string
  material: string | null
  mime: AttachmentMime
  size: number
  /** Where it was added, by whom, when (from its event). */
  author: string
  user: string
  at: string
  /** held: here whole and checked; arriving: some pieces here; missing: none yet. */
  state: AttachmentState
  heldBytes: number
}

const MiB = 1024 * 1024
const mb = (n: number) => `${Math.round((n / MiB) * 10) / 10} MB`

/** The limits, from the node's environment (a setting per deployment; tests change it per run). */
export function attachmentLimits(env: NodeJS.ProcessEnv = process.env): AttachmentLimits {
  const num = (name: string, dflt: number) => {
    const v = Number(env[name])
    return Number.isSafeInteger(v) && v > 0 ? Math.min(v, MAX_ATTACHMENT_BYTES * 1000) : dflt
  }
  return {
    perFileBytes: Math.min(num('TONGBAN_ATTACHMENT_MAX_FILE_BYTES', DEFAULT_ATTACHMENT_LIMITS.perFileBytes), MAX_ATTACHMENT_BYTES),
    perCaseBytes: num('TONGBAN_ATTACHMENT_MAX_CASE_BYTES', DEFAULT_ATTACHMENT_LIMITS.perCaseBytes),
    perCaseFiles: num('TONGBAN_ATTACHMENT_MAX_CASE_FILES', DEFAULT_ATTACHMENT_LIMITS.perCaseFiles),
  }
}

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex')

/** The files a case names: its `attached` events the fold did not flag, once per hash. */
export function attachedOf(c: Pick<CaseView, 'events' | 'flagged'>): (AttachedInput & { author: string; user: string; at: string })[] {
  const flagged = new Set(c.flagged.map((f) => f.eventId))
  const seen = new Set<string>()
  const out: (AttachedInput & { author: string; user: string; at: string })[] = []
  for (const e of c.events) {
    if (e.type !== 'attached' || flagged.has(e.id) || seen.has(e.hash)) continue
    seen.add(e.hash)
    out.push({ type: 'attached', hash: e.hash, size: e.size, mime: e.mime, name: e.name, material: e.material, author: e.author, user: e.user, at: e.at })
  }
  return out
}

export class AttachmentStore {
  constructor(
    private readonly db: Db,
    private readonly node: Pick<TongbanNode, 'cases'>,
  ) {}

  /**
   * Adds a file to a case: the type from its bytes (PDF, JPEG, PNG), the limits (413 naming
   * them), stored once by hash, then the signed event. The same file twice is the first one.
   */
  async add(caseId: string, bytes: Uint8Array, meta: { name: string; material?: string }, actor: Actor): Promise<{ attachment: AttachmentView; created: boolean }> {
    const view = await this.node.cases.get(caseId)
    if (!view) throw new ApiError('not_found', `case ${caseId} is not held at this node`)
    const limits = attachmentLimits()
    if (bytes.length === 0) throw new ApiError('bad_request', '文件是空的，请重新选择 (the file is empty)')
    if (bytes.length > limits.perFileBytes) {
      throw new ApiError('payload_too_large', `文件太大：${mb(bytes.length)}，每个附件最多 ${mb(limits.perFileBytes)}；请拍照或扫描时降低分辨率，或分页上传 (the file is ${bytes.length} bytes; at most ${limits.perFileBytes} per file)`, { limit: limits.perFileBytes, size: bytes.length })
    }
    const mime = sniffMime(bytes)
    if (!mime) throw new ApiError('unsupported_type', '只接受 PDF、JPEG、PNG 格式的附件 (only PDF, JPEG and PNG files are taken; this file is none of them)')
    const hash = sha256(bytes)
    const named = attachedOf(view)
    const same = named.find((a) => a.hash === hash)
    if (same) return { attachment: (await this.states([same]))[0], created: false }
    const total = named.reduce((n, a) => n + a.size, 0)
    if (named.length + 1 > limits.perCaseFiles) {
      throw new ApiError('payload_too_large', `本件已有 ${named.length} 个附件，每件最多 ${limits.perCaseFiles} 个 (a case holds at most ${limits.perCaseFiles} attachments)`, { limit: limits.perCaseFiles })
    }
    if (total + bytes.length > limits.perCaseBytes) {
      throw new ApiError('payload_too_large', `本件附件合计将达 ${mb(total + bytes.length)}，每件最多 ${mb(limits.perCaseBytes)} (the case's attachments would be ${total + bytes.length} bytes; at most ${limits.perCaseBytes} per case)`, { limit: limits.perCaseBytes, size: total + bytes.length })
    }
    const input = parseOr400(AttachedInputSchema, { type: 'attached', hash, size: bytes.length, mime, name: meta.name, ...(meta.material ? { material: meta.material } : {}) }, 'attachment')
    await this.storeWhole(hash, mime, bytes)
    // The bytes are on disk before the event names them: a 201 is never for a file a power cut took.
    await this.db.checkpoint()
    await this.node.cases.act(caseId, input, actor)
    const after = await this.node.cases.get(caseId)
    const mine = attachedOf(after!).find((a) => a.hash === hash)!
    return { attachment: (await this.states([mine]))[0], created: true }
  }

  /** The case's files with where each stands at this node. */
  async list(caseId: string): Promise<AttachmentView[] | null> {
    const view = await this.node.cases.get(caseId)
    return view ? this.states(attachedOf(view)) : null
  }

  /** The bytes of a file the case names, once held whole here; 404 / 409 otherwise, saying why. */
  async read(caseId: string, hash: string): Promise<{ bytes: Uint8Array; mime: AttachmentMime; name: string }> {
    const view = await this.node.cases.get(caseId)
    if (!view) throw new ApiError('not_found', `case ${caseId} is not held at this node`)
    const a = attachedOf(view).find((x) => x.hash === hash)
    if (!a) throw new ApiError('not_found', `案件 ${caseId} 没有这个附件 (the case names no attachment ${hash.slice(0, 12)}…)`)
    const [b] = await this.db.query<{ complete: boolean }>('SELECT complete FROM attachment_blobs WHERE hash = $1', [hash])
    if (!b?.complete) throw new ApiError('conflict', '附件还在传输中，请稍后再看 (the attachment is still on its way to this node)', { state: 'arriving' })
    return { bytes: await this.whole(hash, a.size), mime: a.mime, name: a.name }
  }

  private async states(list: ReturnType<typeof attachedOf>): Promise<AttachmentView[]> {
    if (!list.length) return []
    const rows = await this.db.query<{ hash: string; complete: boolean; held: number }>(
      `SELECT h AS hash, coalesce(b.complete, false) AS complete,
         coalesce((SELECT sum(length(p.bytes)) FROM attachment_pieces p WHERE p.hash = h), 0)::float8 AS held
       FROM unnest($1::text[]) AS h LEFT JOIN attachment_blobs b ON b.hash = h`,
      [list.map((a) => a.hash)],
    )
    const by = new Map(rows.map((r) => [r.hash, r]))
    return list.map((a) => {
      const r = by.get(a.hash)
      const state: AttachmentState = r?.complete ? 'held' : Number(r?.held ?? 0) > 0 ? 'arriving' : 'missing'
      return {
        hash: a.hash, name: a.name, material: a.material ?? null, mime: a.mime, size: a.size, author: a.author, user: a.user, at: a.at,
        state, heldBytes: state === 'held' ? a.size : Math.min(a.size, Number(r?.held ?? 0)),
      }
    })
  }

  /** A whole file, checked, in its pieces and marked complete (one transaction). */
  private async storeWhole(hash: string, mime: AttachmentMime, bytes: Uint8Array): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.query(
        `INSERT INTO attachment_blobs (hash, size, mime, complete) VALUES ($1, $2, $3, true)
         ON CONFLICT (hash) DO UPDATE SET complete = true`, [hash, bytes.length, mime])
      for (let at = 0; at < bytes.length; at += PIECE_BYTES) {
        await tx.query(
          `INSERT INTO attachment_pieces (hash, "offset", bytes) VALUES ($1, $2, $3) ON CONFLICT (hash, "offset") DO NOTHING`,
          [hash, at, bytes.subarray(at, at + PIECE_BYTES)])
      }
    })
  }

  /** Every piece of `hash` in order, as one buffer (it must be complete). */
  async whole(hash: string, size: number): Promise<Uint8Array> {
    const rows = await this.db.query<{ offset: number; bytes: Uint8Array }>(
      `SELECT "offset", bytes FROM attachment_pieces WHERE hash = $1 ORDER BY "offset"`, [hash])
    const out = new Uint8Array(size)
    for (const r of rows) out.set(toBytes(r.bytes), r.offset)
    return out
  }

  /** The offsets of `hash` held here. */
  async heldOffsets(hash: string): Promise<number[]> {
    return (await this.db.query<{ offset: number }>(`SELECT "offset" FROM attachment_pieces WHERE hash = $1`, [hash])).map((r) => r.offset)
  }

  /** One piece, if held here. */
  async piece(hash: string, offset: number): Promise<Uint8Array | null> {
    const [r] = await this.db.query<{ bytes: Uint8Array }>(`SELECT bytes FROM attachment_pieces WHERE hash = $1 AND "offset" = $2`, [hash, offset])
    return r ? toBytes(r.bytes) : null
  }

  /**
   * Keeps a piece that came over the link. Once all are here the whole is hashed: it is marked
   * complete when it matches its name, else every piece is dropped (to be asked for again) and
   * 'corrupt' returned, for the log.
   */
  async putPiece(hash: string, size: number, mime: AttachmentMime, offset: number, bytes: Uint8Array): Promise<'stored' | 'complete' | 'corrupt'> {
    const n = await this.db.transaction(async (tx) => {
      await tx.query(`INSERT INTO attachment_blobs (hash, size, mime) VALUES ($1, $2, $3) ON CONFLICT (hash) DO NOTHING`, [hash, size, mime])
      await tx.query(`INSERT INTO attachment_pieces (hash, "offset", bytes) VALUES ($1, $2, $3) ON CONFLICT (hash, "offset") DO NOTHING`, [hash, offset, bytes])
      const [r] = await tx.query<{ n: number }>(`SELECT count(*)::int AS n FROM attachment_pieces WHERE hash = $1`, [hash])
      return r.n
    })
    if (n < pieceCount(size)) return 'stored'
    const whole = await this.whole(hash, size)
    if (sha256(whole) !== hash || sniffMime(whole) !== mime) {
      await this.db.transaction(async (tx) => {
        await tx.query(`DELETE FROM attachment_pieces WHERE hash = $1`, [hash])
        await tx.query(`UPDATE attachment_blobs SET complete = false WHERE hash = $1`, [hash])
      })
      return 'corrupt'
    }
    await this.db.query(`UPDATE attachment_blobs SET complete = true WHERE hash = $1`, [hash])
    return 'complete'
  }
}

/** One store per node, made on first use (the node's own wiring stays as it is). */
const stores = new WeakMap<object, AttachmentStore>()
export function attachmentsOf(node: Pick<TongbanNode, 'db' | 'cases'>): AttachmentStore {
  let s = stores.get(node)
  if (!s) stores.set(node, (s = new AttachmentStore(node.db, node)))
  return s
}
