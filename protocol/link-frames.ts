/**
 * The parent–child link's wire format (protocol/PROTOCOL.md): document ids, the frames, their
 * size limits, batching of updates, and chunking of messages larger than a frame. Written as
 * mirrored `writeX(encoder, …)` / `readX(decoder)` pairs over lib0 encoding, like y-protocols'
 * sync.js. Pure: no socket, no compression, no clock — the session owns I/O and calls these.
 *
 * Every reader checks every length against the bytes left, every code and document id, and
 * throws a FrameError carrying the close code to use; every writer refuses (close code 4500,
 * our own fault) to produce a frame its reader would refuse, so `decodeFrame(encodeFrame(f))`
 * gives back `f` for any frame that encodes.
 */
import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import { z } from 'zod'
import { CaseIdSchema } from './case.ts'
import { LINK_CLOSE_CODES, LINK_FRAME_TYPES, type LinkCloseCode } from './codes.ts'
import { levelOfCode } from './division.ts'
import { noticeEnds } from './notice.ts'
import { MAX_ATTACHMENT_BYTES, PIECE_BYTES } from './attachments.ts'

// ---------------------------------------------------------------------------------------------
// Limits

/** The link protocol version hello carries; a peer speaking another closes with 4409. */
export const LINK_PROTOCOL_VERSION = 1
/** No frame on the wire is larger: a larger one closes the link with 4413. */
export const MAX_FRAME_BYTES = 64 * 1024
/** What a sender aims for per updates frame (uncompressed), so one frame is ~3 s at 100 kbit/s. */
export const TARGET_FRAME_BYTES = 32 * 1024
/** Updates frames a sender may have unacknowledged; a dropped link resends at most these. */
export const WINDOW_FRAMES = 8
/** The largest logical message (a reassembled chunk stream, an inflated updates body). */
export const MAX_MESSAGE_BYTES = 16 * 1024 * 1024
/** The piece a sender puts in each chunk frame (a chunk frame then stays well under MAX_FRAME_BYTES). */
export const CHUNK_BYTES = 32 * 1024
/** The most pieces one chunk stream may announce (at CHUNK_BYTES, 128 MiB: the byte cap binds first). */
export const MAX_CHUNKS = 4096
/** Chunk streams a receiver holds open at once per link (bounds its memory at 2 × 16 MiB). */
export const MAX_STREAMS = 2
/** A side pings at this interval… */
export const PING_INTERVAL_MS = 15_000
/** …and closes with 4408 when it has heard nothing (no frame at all) for this long. */
export const PEER_TIMEOUT_MS = 60_000
/** Bit 0 of the updates frame's flags: the body is deflate-raw compressed (done by the I/O side). */
export const UPDATES_FLAG_DEFLATE_RAW = 0b1
/** An error frame's message is cut to this many UTF-8 bytes. */
export const MAX_ERROR_MESSAGE_BYTES = 1024
/** An ask's or answer's JSON body is at most this many UTF-8 bytes (a progress answer is ~1 KB). */
export const MAX_ASK_BYTES = 8 * 1024

const MAX_DOC_ID_BYTES = 64
const MAX_EPOCH_BYTES = 64
/** Every updates body entry takes at least seq (1) + docId (1 + 1) + update (1 + 1) bytes. */
const MIN_ENTRY_BYTES = 5

// ---------------------------------------------------------------------------------------------
// Errors

/** A frame that cannot be read (or written), with the WebSocket close code the link should use. */
export class FrameError extends Error {
  override readonly name = 'FrameError'
  constructor(
    readonly closeCode: LinkCloseCode,
    message: string,
  ) {
    super(message)
  }
}

/** Reading blames the peer (4400 unless said otherwise); writing blames us (4500). */
type Side = 'read' | 'write'
function fail(side: Side, message: string, code?: LinkCloseCode): never {
  if (side === 'write') throw new FrameError(code ?? LINK_CLOSE_CODES.internal, `cannot encode: ${message}`)
  throw new FrameError(code ?? LINK_CLOSE_CODES.malformed_frame, message)
}
const shown = (s: string) => JSON.stringify(s.length > 60 ? `${s.slice(0, 60)}…` : s)

// ---------------------------------------------------------------------------------------------
// Document ids

/**
 * A document id, parsed: `case:<caseId>`, `catalogue:<publisher code>`, `stats:<node code>:<YYYY-MM>`
 * (cases taken in at the node, 受理地) or `stats:<node code>:<YYYY-MM>:handled` (cases it decides,
 * 办理地), or `directory:tree` (the one unit directory, protocol/trust.ts).
 */
export type DocId =
  | { kind: 'case'; caseId: string; originCode: string }
  | { kind: 'catalogue'; scope: string }
  /** `rollup`: `…:sum`, the unit's rollup of its subtree (protocol/stats-rollup.ts). */
  | { kind: 'stats'; nodeCode: string; month: string; dim: 'origin' | 'handler'; rollup?: true }
  | { kind: 'directory' }
  /** `escrow:<unit code>`: the unit's sealed escrow of its own cases (protocol/escrow.ts). */
  | { kind: 'escrow'; nodeCode: string }
  /** `watch:<unit code>`: the unit's 电子监察 warnings (protocol/supervision.ts). */
  | { kind: 'watch'; nodeCode: string }
  /** `notice:<issuer>-<target>-<nonce>`: a 督办 notice and its replies (protocol/notice.ts). */
  | { kind: 'notice'; noticeId: string; issuer: string; target: string }

const STATS_REST = /^(\d{12}):(\d{4}-(?:0[1-9]|1[0-2]))(:handled)?(:sum)?$/

/** The parsed id, or why `id` is none. */
function docIdOrProblem(id: string): DocId | string {
  if (id.length > MAX_DOC_ID_BYTES) return `document id ${shown(id)} is longer than ${MAX_DOC_ID_BYTES} characters`
  const colon = id.indexOf(':')
  const kind = colon < 0 ? '' : id.slice(0, colon)
  const rest = id.slice(colon + 1)
  const codeProblem = (code: string) => {
    const level = levelOfCode(code)
    return typeof level === 'string' ? null : `document id ${shown(id)}: ${level.error}`
  }
  switch (kind) {
    case 'case': {
      if (!CaseIdSchema.safeParse(rest).success) return `document id ${shown(id)}: a case is case:<origin code>-<YYYYMMDD>-<sequence>`
      const originCode = rest.slice(0, 12)
      return codeProblem(originCode) ?? { kind, caseId: rest, originCode }
    }
    case 'catalogue':
      if (!/^\d{12}$/.test(rest)) return `document id ${shown(id)}: a catalogue is catalogue:<12-digit publisher code>`
      return codeProblem(rest) ?? { kind, scope: rest }
    case 'stats': {
      const m = STATS_REST.exec(rest)
      if (!m) return `document id ${shown(id)}: statistics are stats:<12-digit node code>:<YYYY-MM>, with :handled for those by 办理地 and :sum for a rollup`
      return codeProblem(m[1]) ?? { kind, nodeCode: m[1], month: m[2], dim: m[3] ? 'handler' : 'origin', ...(m[4] ? { rollup: true as const } : {}) }
    }
    case 'directory':
      return rest === 'tree' ? { kind } : `document id ${shown(id)}: the unit directory is directory:tree`
    case 'escrow':
      if (!/^\d{12}$/.test(rest)) return `document id ${shown(id)}: an escrow is escrow:<12-digit unit code>`
      return codeProblem(rest) ?? { kind, nodeCode: rest }
    case 'watch':
      if (!/^\d{12}$/.test(rest)) return `document id ${shown(id)}: warnings are watch:<12-digit unit code>`
      return codeProblem(rest) ?? { kind, nodeCode: rest }
    case 'notice': {
      const ends = noticeEnds(rest)
      if (!ends) return `document id ${shown(id)}: a notice is notice:<issuer code>-<target code>-<8–22 letters>`
      return codeProblem(ends.issuer) ?? codeProblem(ends.target) ?? { kind, noticeId: rest, ...ends }
    }
    default:
      return `document id ${shown(id)} names no kind: it starts with case:, catalogue:, stats:, watch:, notice:, escrow: or directory:`
  }
}

/** A document id as the link carries it; the message says what is wrong with a bad one. */
export const DocIdSchema = z.string().superRefine((id, ctx) => {
  const r = docIdOrProblem(id)
  if (typeof r === 'string') ctx.addIssue({ code: 'custom', message: r })
})

/** Parses a document id; throws an Error saying what is wrong when it is none. */
export function parseDocId(id: string): DocId {
  const r = docIdOrProblem(id)
  if (typeof r === 'string') throw new Error(r)
  return r
}

/** The id of a parsed document id (the inverse of parseDocId). */
export function formatDocId(d: DocId): string {
  if (d.kind === 'case') return `case:${d.caseId}`
  if (d.kind === 'catalogue') return `catalogue:${d.scope}`
  if (d.kind === 'directory') return 'directory:tree'
  if (d.kind === 'escrow') return `escrow:${d.nodeCode}`
  if (d.kind === 'watch') return `watch:${d.nodeCode}`
  if (d.kind === 'notice') return `notice:${d.noticeId}`
  return `stats:${d.nodeCode}:${d.month}${d.dim === 'handler' ? ':handled' : ''}${d.rollup ? ':sum' : ''}`
}

// ---------------------------------------------------------------------------------------------
// Frames

export const LINK_ROLES = ['parent', 'child'] as const
export type LinkRole = (typeof LINK_ROLES)[number]

/**
 * Sent once each way on connect. Who I am: `code`, `role`, `epoch` (the identity of my store,
 * new when it is rebuilt or restored). What I hold of yours: `received`, the last of your
 * sequences I have applied, counted in your store `peerEpoch` ('' when I hold nothing of yours
 * yet, and then `received` is 0). What I have: `latest`, my own newest sequence. From these
 * both ends decide alike whether a cursor still holds (PROTOCOL.md, "Resuming"): see
 * `resumeFrom`.
 */
export interface HelloFrame {
  type: 'hello'; code: string; role: LinkRole; epoch: string; peerEpoch: string; received: number; latest: number
}
/** A batch of updates: `body` is `encodeUpdatesBody(entries)`, deflate-raw compressed when `compressed`. */
export interface UpdatesFrame { type: 'updates'; compressed: boolean; body: Uint8Array }
/** Cumulative: every update of the receiver's up to `seq` is applied and stored. */
export interface AckFrame { type: 'ack'; seq: number }
/** Repair: the sender's Yjs state vector of a document (y-protocols sync step 1). */
export interface SyncStep1Frame { type: 'sync-step1'; docId: string; stateVector: Uint8Array }
/** Repair: what the receiver of a step 1 lacks, `Y.encodeStateAsUpdate(doc, stateVector)`. */
export interface SyncStep2Frame { type: 'sync-step2'; docId: string; update: Uint8Array }
/** Keepalive: `time` is the sender's clock in whole milliseconds; the pong echoes it. */
export interface PingFrame { type: 'ping'; time: number }
export interface PongFrame { type: 'pong'; time: number }
/** Why the sender is about to close (`code` is the close code it will use). */
export interface ErrorFrame { type: 'error'; code: number; message: string }
/**
 * A question to the peer and its answer (the lookup a node passes down towards the unit that
 * holds a case: protocol/progress.ts). `id` pairs them; `body` is JSON the session checks with
 * LinkAskSchema / LinkAnswerSchema — here only its size and encoding are checked.
 */
export interface AskFrame { type: 'ask'; id: number; body: string }
export interface AnswerFrame { type: 'answer'; id: number; body: string }
/**
 * Attachment lane (PROTOCOL.md, "Attachments"): the receiver wants the piece at `offset` of the
 * file `hash` (SHA-256, hex) that case `caseId` names; the sender answers with the piece, `total`
 * being the file's size — or with no bytes and total 0 when it will not (the case is not the
 * peer's) or cannot (it does not hold that piece yet): the same answer either way.
 */
export interface PieceWantFrame { type: 'piece-want'; caseId: string; hash: string; offset: number }
export interface PieceFrame { type: 'piece'; hash: string; offset: number; total: number; bytes: Uint8Array }
/** Piece `index` of `total` of an encoded frame larger than MAX_FRAME_BYTES. */
export interface ChunkFrame { type: 'chunk'; streamId: number; index: number; total: number; bytes: Uint8Array }

export type LinkFrame =
  | HelloFrame | UpdatesFrame | AckFrame | SyncStep1Frame | SyncStep2Frame
  | PingFrame | PongFrame | ErrorFrame | ChunkFrame | AskFrame | AnswerFrame | PieceWantFrame | PieceFrame

/** One stored update in an updates body: the sender's sequence, its document, the Yjs update. */
export interface UpdateEntry { seq: number; docId: string; update: Uint8Array }

// --- checked primitives -----------------------------------------------------------------------

const utf8 = new TextDecoder('utf-8', { fatal: true })
const utf8Encoder = new TextEncoder()

function readUint(d: decoding.Decoder, what: string): number {
  let n: number
  try {
    n = decoding.readVarUint(d)
  } catch {
    return fail('read', `${what}: truncated or larger than 2^53`)
  }
  if (!Number.isSafeInteger(n)) fail('read', `${what}: larger than 2^53`)
  return n
}

function readByte(d: decoding.Decoder, what: string): number {
  if (d.pos >= d.arr.length) fail('read', `${what}: truncated`)
  return decoding.readUint8(d)
}

/** lib0's readUint8Array does not check the length against what is left: this does. */
function readBytes(d: decoding.Decoder, what: string, maxBytes = Infinity): Uint8Array {
  const len = readUint(d, `${what} length`)
  const left = d.arr.length - d.pos
  if (len > left) fail('read', `${what}: ${len} bytes announced, ${left} left in the frame`)
  if (len > maxBytes) fail('read', `${what}: ${len} bytes, at most ${maxBytes} allowed`)
  return decoding.readUint8Array(d, len)
}

function readString(d: decoding.Decoder, what: string, maxBytes: number): string {
  const bytes = readBytes(d, what, maxBytes)
  try {
    return utf8.decode(bytes)
  } catch {
    return fail('read', `${what} is not UTF-8`)
  }
}

function checkUint(side: Side, n: number, what: string, min = 0): number {
  if (!Number.isSafeInteger(n) || n < min) fail(side, `${what} must be an integer ≥ ${min} (below 2^53), got ${n}`)
  return n
}

function checkDocId(side: Side, id: string): string {
  const r = typeof id === 'string' ? docIdOrProblem(id) : 'the document id is not a string'
  if (typeof r === 'string') fail(side, r)
  return id
}

function checkNodeCode(side: Side, code: string): string {
  const level = typeof code === 'string' ? levelOfCode(code) : { error: 'the node code is not a string' }
  if (typeof level !== 'string') fail(side, `hello: ${level.error}`)
  return code
}

function checkEpoch(side: Side, epoch: string, what = 'epoch', orEmpty = false): string {
  if (typeof epoch !== 'string' || !(/^[0-9A-Za-z_-]{1,64}$/.test(epoch) || (orEmpty && epoch === ''))) {
    fail(side, `hello: the ${what} is ${orEmpty ? 'empty or ' : ''}1–${MAX_EPOCH_BYTES} letters, digits, _ or -, got ${shown(String(epoch))}`)
  }
  return epoch
}

/** A cursor belongs to a store: with none ('' epoch) there is nothing received. */
function checkCursor(side: Side, peerEpoch: string, received: number): void {
  if (peerEpoch === '' && received !== 0) fail(side, `hello: received ${received} but no peer epoch it counts in`)
}

/** Close codes an error frame may carry: the ones a WebSocket application may close with. */
function checkCloseCode(side: Side, code: number): number {
  checkUint(side, code, 'error: the close code')
  if (!(code === 1000 || code === 1001 || (code >= 3000 && code <= 4999))) fail(side, `error: ${code} is not a close code (1000, 1001 or 3000–4999)`)
  return code
}

/** A Yjs state vector: varUint(n) • n × (varUint(client) • varUint(clock)), nothing after. */
function checkStateVector(side: Side, sv: Uint8Array): Uint8Array {
  if (!(sv instanceof Uint8Array)) fail(side, 'sync-step1: the state vector is not bytes')
  const d = decoding.createDecoder(sv)
  try {
    const n = readUint(d, 'state vector size')
    if (n * 2 > sv.length) fail('read', `state vector claims ${n} clients in ${sv.length} bytes`)
    for (let i = 0; i < n; i++) {
      readUint(d, 'state vector client')
      readUint(d, 'state vector clock')
    }
    if (decoding.hasContent(d)) fail('read', 'state vector has trailing bytes')
  } catch (e) {
    fail(side, `sync-step1: ${(e as Error).message}`)
  }
  return sv
}

function checkBytes(side: Side, b: Uint8Array, what: string, min = 0): Uint8Array {
  if (!(b instanceof Uint8Array)) fail(side, `${what} is not bytes`)
  if (b.length < min) fail(side, `${what} is empty`)
  return b
}

// --- hello ------------------------------------------------------------------------------------

/** hello(v, code, role, epoch, peerEpoch, received, latest) */
export function writeHello(encoder: encoding.Encoder, h: Omit<HelloFrame, 'type'>): void {
  const role = LINK_ROLES.indexOf(h.role)
  if (role < 0) fail('write', `hello: the role is parent or child, got ${shown(String(h.role))}`)
  checkNodeCode('write', h.code)
  checkEpoch('write', h.epoch)
  checkEpoch('write', h.peerEpoch, 'peer epoch', true)
  checkUint('write', h.received, 'hello: received')
  checkUint('write', h.latest, 'hello: latest')
  checkCursor('write', h.peerEpoch, h.received)
  encoding.writeVarUint(encoder, LINK_FRAME_TYPES.hello)
  encoding.writeVarUint(encoder, LINK_PROTOCOL_VERSION)
  encoding.writeVarString(encoder, h.code)
  encoding.writeVarUint(encoder, role)
  encoding.writeVarString(encoder, h.epoch)
  encoding.writeVarString(encoder, h.peerEpoch)
  encoding.writeVarUint(encoder, h.received)
  encoding.writeVarUint(encoder, h.latest)
}

export function readHello(decoder: decoding.Decoder): HelloFrame {
  const v = readUint(decoder, 'hello: version')
  if (v !== LINK_PROTOCOL_VERSION) {
    fail('read', `the peer speaks link protocol version ${v}; this node speaks ${LINK_PROTOCOL_VERSION}: upgrade the older one`, LINK_CLOSE_CODES.version_mismatch)
  }
  const code = checkNodeCode('read', readString(decoder, 'hello: code', 12))
  const roleIndex = readUint(decoder, 'hello: role')
  const role = LINK_ROLES[roleIndex]
  if (role === undefined) fail('read', `hello: role ${roleIndex} is neither parent (0) nor child (1)`)
  const epoch = checkEpoch('read', readString(decoder, 'hello: epoch', MAX_EPOCH_BYTES))
  const peerEpoch = checkEpoch('read', readString(decoder, 'hello: peer epoch', MAX_EPOCH_BYTES), 'peer epoch', true)
  const received = readUint(decoder, 'hello: received')
  const latest = readUint(decoder, 'hello: latest')
  checkCursor('read', peerEpoch, received)
  return { type: 'hello', code, role, epoch, peerEpoch, received, latest }
}

/** Where a stream resumes: after this sequence; `repair` when a repair pass is due first. */
export interface Resume { after: number; repair: boolean }

/**
 * A cursor holds when it counts in the store's current epoch and does not run past its latest
 * sequence; else it is void (the store was rebuilt or restored) and the stream restarts from 0,
 * with a repair pass unless this is first contact (no cursor yet: nothing to repair).
 */
function resume(cursor: { peerEpoch: string; received: number }, store: { epoch: string; latest: number }): Resume {
  if (cursor.peerEpoch === store.epoch && cursor.received <= store.latest) return { after: cursor.received, repair: false }
  return { after: 0, repair: cursor.peerEpoch !== '' }
}

/**
 * Where this side resumes streaming to the peer, judged from the peer's hello (its cursor of
 * this store) and this store's epoch and latest sequence.
 */
export function sendFrom(peerHello: Pick<HelloFrame, 'peerEpoch' | 'received'>, self: { epoch: string; latest: number }): Resume {
  return resume(peerHello, self)
}

/**
 * Where the peer resumes streaming to this side, judged from the cursor this side holds for it
 * and the peer's hello: the mirror of `sendFrom`, so both ends agree without another round trip.
 * When `after` is 0 and the held cursor was not, the peer restarts from its first update.
 */
export function receiveFrom(peerHello: Pick<HelloFrame, 'epoch' | 'latest'>, held: { peerEpoch: string; received: number }): Resume {
  return resume(held, peerHello)
}

// --- updates ----------------------------------------------------------------------------------

/** updates(flags, body) */
export function writeUpdates(encoder: encoding.Encoder, u: Omit<UpdatesFrame, 'type'>): void {
  checkBytes('write', u.body, 'updates: the body', 1)
  encoding.writeVarUint(encoder, LINK_FRAME_TYPES.updates)
  encoding.writeUint8(encoder, u.compressed ? UPDATES_FLAG_DEFLATE_RAW : 0)
  encoding.writeVarUint8Array(encoder, u.body)
}

export function readUpdates(decoder: decoding.Decoder): UpdatesFrame {
  const flags = readByte(decoder, 'updates: flags')
  // An unknown flag would change how the body reads: refuse rather than misread it.
  if (flags & ~UPDATES_FLAG_DEFLATE_RAW) fail('read', `updates: unknown flags ${flags.toString(2).padStart(8, '0')}`)
  const body = readBytes(decoder, 'updates: body')
  if (body.length === 0) fail('read', 'updates: the body is empty')
  return { type: 'updates', compressed: (flags & UPDATES_FLAG_DEFLATE_RAW) !== 0, body }
}

/** The bytes a varUint takes. */
function varUintBytes(n: number): number {
  let len = 1
  while (n > 127) {
    n = Math.floor(n / 128)
    len++
  }
  return len
}

/** UTF-8 length without encoding (lone surrogates count 3, as TextEncoder writes U+FFFD). */
function utf8Bytes(s: string): number {
  let n = 0
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x80) n += 1
    else if (c < 0x800) n += 2
    else if (c >= 0xd800 && c < 0xdc00 && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 4
      i++
    } else n += 3
  }
  return n
}

/** The bytes one entry adds to an updates body (for a sender filling a frame row by row). */
export function entryBytes(e: UpdateEntry): number {
  const id = utf8Bytes(e.docId)
  return varUintBytes(e.seq) + varUintBytes(id) + id + varUintBytes(e.update.length) + e.update.length
}

/** The size of an uncompressed updates frame of `count` entries taking `entriesBytes` together. */
function updatesFrameBytes(count: number, entriesBytes: number): number {
  const body = varUintBytes(count) + entriesBytes
  return varUintBytes(LINK_FRAME_TYPES.updates) + 1 + varUintBytes(body) + body
}

/**
 * The uncompressed body of an updates frame: varUint(n) • n × (varUint(seq) • varString(docId) •
 * varByteArray(update)). At least one entry; sequences ≥ 1 and strictly increasing, so the last
 * one is what the receiver acks.
 */
export function encodeUpdatesBody(entries: readonly UpdateEntry[]): Uint8Array {
  if (entries.length === 0) fail('write', 'an updates body needs at least one entry')
  const e = encoding.createEncoder()
  encoding.writeVarUint(e, entries.length)
  let last = 0
  for (const x of entries) {
    checkUint('write', x.seq, `updates: seq (after ${last})`, last + 1)
    last = x.seq
    encoding.writeVarUint(e, x.seq)
    encoding.writeVarString(e, checkDocId('write', x.docId))
    encoding.writeVarUint8Array(e, checkBytes('write', x.update, `updates: the update of ${x.docId}`, 1))
  }
  const bytes = encoding.toUint8Array(e)
  if (bytes.length > MAX_MESSAGE_BYTES) fail('write', `an updates body of ${bytes.length} bytes is over ${MAX_MESSAGE_BYTES}`, LINK_CLOSE_CODES.frame_too_large)
  return bytes
}

/**
 * Reads an (already inflated) updates body. The I/O side inflates with a cap of
 * MAX_MESSAGE_BYTES, so a small frame cannot expand without bound.
 */
export function decodeUpdatesBody(bytes: Uint8Array): UpdateEntry[] {
  if (!(bytes instanceof Uint8Array)) fail('read', 'an updates body must be bytes')
  if (bytes.length > MAX_MESSAGE_BYTES) fail('read', `an updates body of ${bytes.length} bytes is over ${MAX_MESSAGE_BYTES}`, LINK_CLOSE_CODES.frame_too_large)
  return guard(() => {
    const d = decoding.createDecoder(bytes)
    const n = readUint(d, 'updates: entry count')
    if (n === 0) fail('read', 'updates: no entries')
    if (n * MIN_ENTRY_BYTES > bytes.length) fail('read', `updates: ${n} entries cannot fit in ${bytes.length} bytes`)
    const out: UpdateEntry[] = []
    let last = 0
    for (let i = 0; i < n; i++) {
      const seq = readUint(d, 'updates: seq')
      if (seq <= last) fail('read', `updates: sequence ${seq} after ${last}: sequences increase within a frame, from 1`)
      last = seq
      const docId = checkDocId('read', readString(d, 'updates: docId', MAX_DOC_ID_BYTES))
      const update = readBytes(d, `updates: the update of ${docId}`)
      if (update.length === 0) fail('read', `updates: the update of ${docId} is empty`)
      out.push({ seq, docId, update })
    }
    if (decoding.hasContent(d)) fail('read', 'updates: trailing bytes after the last entry')
    return out
  })
}

/**
 * Splits entries, in order, into batches whose uncompressed updates frame is at most
 * `targetBytes`; an entry too large for that goes alone (encodeMessage chunks its frame if it
 * is over MAX_FRAME_BYTES). Compression only shrinks a frame: the I/O side sends the raw body
 * when deflate does not help.
 */
export function packUpdates(entries: readonly UpdateEntry[], targetBytes: number = TARGET_FRAME_BYTES): UpdateEntry[][] {
  const batches: UpdateEntry[][] = []
  let batch: UpdateEntry[] = []
  let bytes = 0
  for (const e of entries) {
    const b = entryBytes(e)
    if (batch.length && updatesFrameBytes(batch.length + 1, bytes + b) > targetBytes) {
      batches.push(batch)
      batch = []
      bytes = 0
    }
    batch.push(e)
    bytes += b
  }
  if (batch.length) batches.push(batch)
  return batches
}

// --- ack, sync, ping/pong, error ------------------------------------------------------------------

/** ack(seq) */
export function writeAck(encoder: encoding.Encoder, seq: number): void {
  checkUint('write', seq, 'ack: seq')
  encoding.writeVarUint(encoder, LINK_FRAME_TYPES.ack)
  encoding.writeVarUint(encoder, seq)
}

export function readAck(decoder: decoding.Decoder): AckFrame {
  return { type: 'ack', seq: readUint(decoder, 'ack: seq') }
}

/** syncStep1(docId, sv) — the state vector as `Y.encodeStateVector(doc)` gives it. */
export function writeSyncStep1(encoder: encoding.Encoder, docId: string, stateVector: Uint8Array): void {
  checkDocId('write', docId)
  checkStateVector('write', stateVector)
  encoding.writeVarUint(encoder, LINK_FRAME_TYPES['sync-step1'])
  encoding.writeVarString(encoder, docId)
  encoding.writeVarUint8Array(encoder, stateVector)
}

export function readSyncStep1(decoder: decoding.Decoder): SyncStep1Frame {
  const docId = checkDocId('read', readString(decoder, 'sync-step1: docId', MAX_DOC_ID_BYTES))
  const stateVector = checkStateVector('read', readBytes(decoder, 'sync-step1: state vector'))
  return { type: 'sync-step1', docId, stateVector }
}

/** syncStep2(docId, update) — the answer to a step 1: `Y.encodeStateAsUpdate(doc, sv)`. */
export function writeSyncStep2(encoder: encoding.Encoder, docId: string, update: Uint8Array): void {
  checkDocId('write', docId)
  checkBytes('write', update, 'sync-step2: the update', 1)
  encoding.writeVarUint(encoder, LINK_FRAME_TYPES['sync-step2'])
  encoding.writeVarString(encoder, docId)
  encoding.writeVarUint8Array(encoder, update)
}

export function readSyncStep2(decoder: decoding.Decoder): SyncStep2Frame {
  const docId = checkDocId('read', readString(decoder, 'sync-step2: docId', MAX_DOC_ID_BYTES))
  const update = readBytes(decoder, 'sync-step2: update')
  if (update.length === 0) fail('read', 'sync-step2: the update is empty')
  return { type: 'sync-step2', docId, update }
}

/** ping(time) */
export function writePing(encoder: encoding.Encoder, time: number): void {
  checkUint('write', time, 'ping: time')
  encoding.writeVarUint(encoder, LINK_FRAME_TYPES.ping)
  encoding.writeVarUint(encoder, time)
}

export function readPing(decoder: decoding.Decoder): PingFrame {
  return { type: 'ping', time: readUint(decoder, 'ping: time') }
}

/** pong(time) — echoes the ping's time. */
export function writePong(encoder: encoding.Encoder, time: number): void {
  checkUint('write', time, 'pong: time')
  encoding.writeVarUint(encoder, LINK_FRAME_TYPES.pong)
  encoding.writeVarUint(encoder, time)
}

export function readPong(decoder: decoding.Decoder): PongFrame {
  return { type: 'pong', time: readUint(decoder, 'pong: time') }
}

/** The longest prefix of `message` (whole code points) within MAX_ERROR_MESSAGE_BYTES. */
function cutMessage(message: string): string {
  if (utf8Bytes(message) <= MAX_ERROR_MESSAGE_BYTES) return message
  const points = Array.from(message)
  let out = ''
  let bytes = 0
  for (const p of points) {
    const b = utf8Encoder.encode(p).length
    if (bytes + b + 3 > MAX_ERROR_MESSAGE_BYTES) break
    out += p
    bytes += b
  }
  return `${out}…`
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g

/** error(code, message) — a message longer than MAX_ERROR_MESSAGE_BYTES is cut, not refused. */
export function writeError(encoder: encoding.Encoder, code: number, message: string): void {
  checkCloseCode('write', code)
  encoding.writeVarUint(encoder, LINK_FRAME_TYPES.error)
  encoding.writeVarUint(encoder, code)
  // A lone surrogate would reach the peer as U+FFFD anyway: replace it here, so what is read is what was written.
  encoding.writeVarString(encoder, cutMessage(String(message)).replace(LONE_SURROGATE, '\uFFFD'))
}

export function readError(decoder: decoding.Decoder): ErrorFrame {
  const code = checkCloseCode('read', readUint(decoder, 'error: code'))
  return { type: 'error', code, message: readString(decoder, 'error: message', MAX_ERROR_MESSAGE_BYTES) }
}

// --- ask / answer -----------------------------------------------------------------------------

/** ask(id, body) and answer(id, body): the same shape, told apart by the type. */
export function writeAsk(encoder: encoding.Encoder, f: Omit<AskFrame, 'type'> | Omit<AnswerFrame, 'type'>, type: 'ask' | 'answer' = 'ask'): void {
  checkUint('write', f.id, `${type}: id`)
  if (typeof f.body !== 'string' || utf8Bytes(f.body) > MAX_ASK_BYTES) fail('write', `${type}: the body is a string of at most ${MAX_ASK_BYTES} bytes`)
  encoding.writeVarUint(encoder, LINK_FRAME_TYPES[type])
  encoding.writeVarUint(encoder, f.id)
  encoding.writeVarString(encoder, f.body)
}

export function readAsk<T extends 'ask' | 'answer'>(decoder: decoding.Decoder, type: T): { type: T; id: number; body: string } {
  const id = readUint(decoder, `${type}: id`)
  return { type, id, body: readString(decoder, `${type}: body`, MAX_ASK_BYTES) }
}

// --- piece-want / piece -----------------------------------------------------------------------

const HASH_HEX = /^[0-9a-f]{64}$/

function writeHash(side: Side, e: encoding.Encoder, hash: string, what: string): void {
  if (typeof hash !== 'string' || !HASH_HEX.test(hash)) fail(side, `${what}: the hash is 64 lowercase hex digits`)
  for (let i = 0; i < 64; i += 2) encoding.writeUint8(e, parseInt(hash.slice(i, i + 2), 16))
}

function readHash(d: decoding.Decoder, what: string): string {
  if (d.arr.length - d.pos < 32) fail('read', `${what}: the hash is truncated`)
  return Array.from(decoding.readUint8Array(d, 32), (b) => b.toString(16).padStart(2, '0')).join('')
}

/** A piece's offset is a multiple of PIECE_BYTES inside the file. */
function checkOffset(side: Side, offset: number, total: number | null, what: string): number {
  checkUint(side, offset, `${what}: offset`)
  if (offset % PIECE_BYTES !== 0) fail(side, `${what}: offset ${offset} is not a multiple of ${PIECE_BYTES}`)
  if (offset >= MAX_ATTACHMENT_BYTES || (total !== null && total > 0 && offset >= total)) fail(side, `${what}: offset ${offset} is past the file's end`)
  return offset
}

/** piece-want(caseId, hash, offset) */
export function writePieceWant(encoder: encoding.Encoder, w: Omit<PieceWantFrame, 'type'>): void {
  if (!CaseIdSchema.safeParse(w.caseId).success) fail('write', `piece-want: ${shown(String(w.caseId))} is not a case number`)
  checkOffset('write', w.offset, null, 'piece-want')
  encoding.writeVarUint(encoder, LINK_FRAME_TYPES['piece-want'])
  encoding.writeVarString(encoder, w.caseId)
  writeHash('write', encoder, w.hash, 'piece-want')
  encoding.writeVarUint(encoder, w.offset)
}

export function readPieceWant(decoder: decoding.Decoder): PieceWantFrame {
  const caseId = readString(decoder, 'piece-want: case', 32)
  if (!CaseIdSchema.safeParse(caseId).success) fail('read', `piece-want: ${shown(caseId)} is not a case number`)
  const hash = readHash(decoder, 'piece-want')
  const offset = checkOffset('read', readUint(decoder, 'piece-want: offset'), null, 'piece-want')
  return { type: 'piece-want', caseId, hash, offset }
}

/** The bytes a piece at `offset` of a file of `total` bytes must have (none when total is 0: refused). */
function pieceProblem(p: Omit<PieceFrame, 'type'>): string | null {
  if (p.total === 0) return p.bytes.length === 0 ? null : 'a refused piece (total 0) carries no bytes'
  if (p.total > MAX_ATTACHMENT_BYTES) return `the file is ${p.total} bytes, over ${MAX_ATTACHMENT_BYTES}`
  const want = Math.min(PIECE_BYTES, p.total - p.offset)
  return p.bytes.length === want ? null : `the piece at ${p.offset} of ${p.total} bytes has ${p.bytes.length} bytes, not ${want}`
}

/** piece(hash, offset, total, bytes) */
export function writePiece(encoder: encoding.Encoder, p: Omit<PieceFrame, 'type'>): void {
  checkUint('write', p.total, 'piece: total')
  checkOffset('write', p.offset, p.total, 'piece')
  checkBytes('write', p.bytes, 'piece: the bytes')
  const why = pieceProblem(p)
  if (why) fail('write', `piece: ${why}`)
  encoding.writeVarUint(encoder, LINK_FRAME_TYPES.piece)
  writeHash('write', encoder, p.hash, 'piece')
  encoding.writeVarUint(encoder, p.offset)
  encoding.writeVarUint(encoder, p.total)
  encoding.writeVarUint8Array(encoder, p.bytes)
}

export function readPiece(decoder: decoding.Decoder): PieceFrame {
  const hash = readHash(decoder, 'piece')
  const offset = readUint(decoder, 'piece: offset')
  const total = readUint(decoder, 'piece: total')
  checkOffset('read', offset, total, 'piece')
  const bytes = readBytes(decoder, 'piece: bytes', PIECE_BYTES)
  const why = pieceProblem({ hash, offset, total, bytes })
  if (why) fail('read', `piece: ${why}`)
  return { type: 'piece', hash, offset, total, bytes }
}

// --- chunk ------------------------------------------------------------------------------------

/** chunk(streamId, index, total, bytes) */
export function writeChunk(encoder: encoding.Encoder, c: Omit<ChunkFrame, 'type'>): void {
  checkUint('write', c.total, 'chunk: total', 1)
  if (c.total > MAX_CHUNKS) fail('write', `chunk: ${c.total} pieces, at most ${MAX_CHUNKS}`, LINK_CLOSE_CODES.frame_too_large)
  checkUint('write', c.index, 'chunk: index')
  if (c.index >= c.total) fail('write', `chunk: index ${c.index} of ${c.total}`)
  checkUint('write', c.streamId, 'chunk: streamId')
  checkBytes('write', c.bytes, 'chunk: the piece', 1)
  encoding.writeVarUint(encoder, LINK_FRAME_TYPES.chunk)
  encoding.writeVarUint(encoder, c.streamId)
  encoding.writeVarUint(encoder, c.index)
  encoding.writeVarUint(encoder, c.total)
  encoding.writeVarUint8Array(encoder, c.bytes)
}

export function readChunk(decoder: decoding.Decoder): ChunkFrame {
  const streamId = readUint(decoder, 'chunk: streamId')
  const index = readUint(decoder, 'chunk: index')
  const total = readUint(decoder, 'chunk: total')
  if (total === 0 || total > MAX_CHUNKS) fail('read', `chunk: ${total} pieces; a stream has 1–${MAX_CHUNKS}`, total ? LINK_CLOSE_CODES.frame_too_large : undefined)
  if (index >= total) fail('read', `chunk: index ${index} of ${total}`)
  const bytes = readBytes(decoder, 'chunk: piece')
  if (bytes.length === 0) fail('read', 'chunk: the piece is empty')
  return { type: 'chunk', streamId, index, total, bytes }
}

// --- whole frames -----------------------------------------------------------------------------

function writeFrame(e: encoding.Encoder, f: LinkFrame): void {
  switch (f.type) {
    case 'hello': return writeHello(e, f)
    case 'updates': return writeUpdates(e, f)
    case 'ack': return writeAck(e, f.seq)
    case 'sync-step1': return writeSyncStep1(e, f.docId, f.stateVector)
    case 'sync-step2': return writeSyncStep2(e, f.docId, f.update)
    case 'ping': return writePing(e, f.time)
    case 'pong': return writePong(e, f.time)
    case 'error': return writeError(e, f.code, f.message)
    case 'chunk': return writeChunk(e, f)
    case 'ask': return writeAsk(e, f, 'ask')
    case 'answer': return writeAsk(e, f, 'answer')
    case 'piece-want': return writePieceWant(e, f)
    case 'piece': return writePiece(e, f)
    default: fail('write', `unknown frame type ${shown(String((f as { type: unknown }).type))}`)
  }
}

function readFrame(d: decoding.Decoder): LinkFrame {
  const type = readUint(d, 'frame type')
  switch (type) {
    case LINK_FRAME_TYPES.hello: return readHello(d)
    case LINK_FRAME_TYPES.updates: return readUpdates(d)
    case LINK_FRAME_TYPES.ack: return readAck(d)
    case LINK_FRAME_TYPES['sync-step1']: return readSyncStep1(d)
    case LINK_FRAME_TYPES['sync-step2']: return readSyncStep2(d)
    case LINK_FRAME_TYPES.ping: return readPing(d)
    case LINK_FRAME_TYPES.pong: return readPong(d)
    case LINK_FRAME_TYPES.error: return readError(d)
    case LINK_FRAME_TYPES.chunk: return readChunk(d)
    case LINK_FRAME_TYPES.ask: return readAsk(d, 'ask')
    case LINK_FRAME_TYPES.answer: return readAsk(d, 'answer')
    case LINK_FRAME_TYPES['piece-want']: return readPieceWant(d)
    case LINK_FRAME_TYPES.piece: return readPiece(d)
    default: return fail('read', `unknown frame type ${type}`)
  }
}

/** Anything but a FrameError escaping a reader is a bug of ours; the peer still gets 4400. */
function guard<T>(read: () => T): T {
  try {
    return read()
  } catch (e) {
    if (e instanceof FrameError) throw e
    throw new FrameError(LINK_CLOSE_CODES.malformed_frame, `malformed frame: ${(e as Error)?.message ?? String(e)}`)
  }
}

function encodeUnlimited(frame: LinkFrame): Uint8Array {
  const e = encoding.createEncoder()
  writeFrame(e, frame)
  return encoding.toUint8Array(e)
}

/**
 * One frame, ready to send. Throws FrameError 4413 when it would be over MAX_FRAME_BYTES: use
 * encodeMessage for a frame that may be large (a sync-step2, a single large update).
 */
export function encodeFrame(frame: LinkFrame): Uint8Array {
  const bytes = encodeUnlimited(frame)
  if (bytes.length > MAX_FRAME_BYTES) {
    fail('write', `a ${frame.type} frame of ${bytes.length} bytes is over ${MAX_FRAME_BYTES}: send it with encodeMessage`, LINK_CLOSE_CODES.frame_too_large)
  }
  return bytes
}

function decodeWithin(bytes: Uint8Array, maxBytes: number, what: string): LinkFrame {
  if (!(bytes instanceof Uint8Array)) fail('read', `a ${what} must be bytes`)
  if (bytes.length > maxBytes) fail('read', `a ${what} of ${bytes.length} bytes is over ${maxBytes}`, LINK_CLOSE_CODES.frame_too_large)
  if (bytes.length === 0) fail('read', `an empty ${what}`)
  return guard(() => {
    const d = decoding.createDecoder(bytes)
    const f = readFrame(d)
    if (decoding.hasContent(d)) fail('read', `${f.type}: ${d.arr.length - d.pos} trailing bytes`)
    return f
  })
}

/**
 * Reads one frame off the wire: size, type, every length, code and document id are checked.
 * Returns the frame or throws FrameError with the close code to use; never anything else.
 * Byte fields are views into `bytes`: copy them to keep them longer than `bytes`.
 */
export function decodeFrame(bytes: Uint8Array): LinkFrame {
  return decodeWithin(bytes, MAX_FRAME_BYTES, 'frame')
}

/**
 * A frame as wire frames: itself when it fits in MAX_FRAME_BYTES, else chunk frames of stream
 * `streamId` (used only then; unique among the sender's open streams on this link) carrying
 * `pieceBytes` each. Throws FrameError 4413 over MAX_MESSAGE_BYTES.
 */
export function encodeMessage(frame: LinkFrame, streamId: number, pieceBytes: number = CHUNK_BYTES): Uint8Array[] {
  if (frame.type === 'chunk') return [encodeFrame(frame)]
  const bytes = encodeUnlimited(frame)
  if (bytes.length <= MAX_FRAME_BYTES) return [bytes]
  if (bytes.length > MAX_MESSAGE_BYTES) {
    fail('write', `a ${frame.type} message of ${bytes.length} bytes is over ${MAX_MESSAGE_BYTES}`, LINK_CLOSE_CODES.frame_too_large)
  }
  checkUint('write', pieceBytes, 'the chunk piece size', 1)
  if (pieceBytes > MAX_FRAME_BYTES - 32) fail('write', `chunk pieces of ${pieceBytes} bytes leave no room for the chunk header`)
  const total = Math.ceil(bytes.length / pieceBytes)
  const out: Uint8Array[] = []
  for (let index = 0; index < total; index++) {
    const piece = bytes.subarray(index * pieceBytes, (index + 1) * pieceBytes)
    out.push(encodeFrame({ type: 'chunk', streamId, index, total, bytes: piece }))
  }
  return out
}

/** Reads a message a Reassembler put back together: up to MAX_MESSAGE_BYTES, never a chunk itself. */
export function decodeReassembled(bytes: Uint8Array): Exclude<LinkFrame, ChunkFrame> {
  const f = decodeWithin(bytes, MAX_MESSAGE_BYTES, 'reassembled message')
  if (f.type === 'chunk') fail('read', 'a chunk inside a chunk stream')
  return f
}

// ---------------------------------------------------------------------------------------------
// Reassembly

/**
 * Puts chunk streams back together, in any order of their pieces, with caps on a message's size
 * and on the streams open at once, so a peer cannot make this node buffer without bound. One per
 * link and connection: drop it when the connection closes (a stream never spans connections).
 */
export class Reassembler {
  private readonly streams = new Map<number, { total: number; pieces: Map<number, Uint8Array>; bytes: number }>()
  private readonly maxMessageBytes: number
  private readonly maxStreams: number

  constructor(opts: { maxMessageBytes?: number; maxStreams?: number } = {}) {
    this.maxMessageBytes = opts.maxMessageBytes ?? MAX_MESSAGE_BYTES
    this.maxStreams = opts.maxStreams ?? MAX_STREAMS
  }

  /**
   * Takes one piece; returns the whole message (for decodeReassembled) once its last piece is
   * in, else null. Throws FrameError: 4413 over the size or stream cap, 4400 when a piece
   * contradicts its stream (another total, a repeated index). The failed stream is dropped.
   */
  push(chunk: ChunkFrame): Uint8Array | null {
    const { streamId, index, total, bytes } = chunk
    if (!(Number.isSafeInteger(index) && Number.isSafeInteger(total) && index >= 0 && index < total && total <= MAX_CHUNKS)) {
      throw new FrameError(LINK_CLOSE_CODES.malformed_frame, `chunk stream ${streamId}: piece ${index} of ${total}`)
    }
    let s = this.streams.get(streamId)
    if (!s) {
      if (total === 1) {
        this.checkSize(streamId, bytes.length)
        return bytes.slice()
      }
      if (this.streams.size >= this.maxStreams) {
        throw new FrameError(LINK_CLOSE_CODES.frame_too_large, `chunk stream ${streamId}: ${this.streams.size} streams already open, at most ${this.maxStreams}`)
      }
      s = { total, pieces: new Map(), bytes: 0 }
      this.streams.set(streamId, s)
    }
    if (s.total !== total) this.refuse(streamId, LINK_CLOSE_CODES.malformed_frame, `piece ${index} says ${total} pieces, the stream said ${s.total}`)
    if (s.pieces.has(index)) this.refuse(streamId, LINK_CLOSE_CODES.malformed_frame, `piece ${index} came twice`)
    this.checkSize(streamId, s.bytes + bytes.length)
    s.pieces.set(index, bytes.slice()) // a copy: the frame's buffer is not ours to keep
    s.bytes += bytes.length
    if (s.pieces.size < s.total) return null
    this.streams.delete(streamId)
    const whole = new Uint8Array(s.bytes)
    let at = 0
    for (let i = 0; i < s.total; i++) {
      const piece = s.pieces.get(i)!
      whole.set(piece, at)
      at += piece.length
    }
    return whole
  }

  /** Streams begun and not yet complete. */
  get openStreams(): number {
    return this.streams.size
  }

  /** Bytes held in incomplete streams. */
  get bufferedBytes(): number {
    let n = 0
    for (const s of this.streams.values()) n += s.bytes
    return n
  }

  /** Forgets every incomplete stream (the connection closed). */
  clear(): void {
    this.streams.clear()
  }

  private checkSize(streamId: number, bytes: number): void {
    if (bytes > this.maxMessageBytes) {
      this.refuse(streamId, LINK_CLOSE_CODES.frame_too_large, `the message is over ${this.maxMessageBytes} bytes`)
    }
  }

  private refuse(streamId: number, code: LinkCloseCode, why: string): never {
    this.streams.delete(streamId)
    throw new FrameError(code, `chunk stream ${streamId}: ${why}`)
  }
}

// ---------------------------------------------------------------------------------------------
// A quota's refusal (4429) says when to dial again

/**
 * The reason of a 4429 close (and its error frame) begins with when the peer may dial again,
 * `quota: retry in N s — …`, so the 123 bytes a close reason keeps always carry it; the dialler
 * waits that long (plus a little jitter), not the minute or two of any other refusal.
 * `retryAfterMs` null: more than an hour's quota at once, no time to say.
 */
export function quotaRefusalText(retryAfterMs: number | null, detail: string): string {
  return retryAfterMs === null ? `quota: more than an hour allows at once — ${detail}` : `quota: retry in ${Math.max(1, Math.ceil(retryAfterMs / 1000))} s — ${detail}`
}

/** The wait a 4429 reason asks for, in ms (null when it names none: the refused wait applies). */
export function retryAfterOf(reason: string): number | null {
  const m = /^quota: retry in (\d{1,7}) s\b/.exec(reason)
  return m ? Number(m[1]) * 1000 : null
}
