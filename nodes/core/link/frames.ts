/**
 * The session's view of the link frames (protocol/PROTOCOL.md). Pure encoding; compression
 * is done by the caller on the `updates` body.
 */
import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'

export const LINK_VERSION = 1
export const MAX_FRAME_BYTES = 64 * 1024

export type LinkFrame =
  | { type: 'hello'; code: string; role: 'parent' | 'child'; received: number; latest: number; epoch: string }
  | { type: 'updates'; compressed: boolean; body: Uint8Array }
  | { type: 'ack'; seq: number }
  | { type: 'sync-step1'; docId: string; stateVector: Uint8Array }
  | { type: 'sync-step2'; docId: string; update: Uint8Array }
  | { type: 'ping'; time: number }
  | { type: 'pong'; time: number }
  | { type: 'error'; code: number; message: string }

export interface BodyEntry {
  seq: number
  docId: string
  update: Uint8Array
}

export class FrameError extends Error {
  constructor(message: string, readonly closeCode = 4400) {
    super(message)
  }
}

const T = { hello: 1, updates: 2, ack: 3, 'sync-step1': 4, 'sync-step2': 5, ping: 6, pong: 7, error: 8 } as const
const CODE = /^\d{12}$/
const DOC = /^(case:\d{12}-\d{8}-\d{4,6}|catalogue:\d{12}|stats:\d{12}:\d{4}-\d{2})$/

export class LinkCodec {
  encode(f: LinkFrame): Uint8Array {
    const e = encoding.createEncoder()
    encoding.writeVarUint(e, T[f.type])
    switch (f.type) {
      case 'hello':
        encoding.writeVarUint(e, LINK_VERSION)
        encoding.writeVarString(e, f.code)
        encoding.writeVarUint(e, f.role === 'parent' ? 0 : 1)
        encoding.writeVarUint(e, f.received)
        encoding.writeVarUint(e, f.latest)
        encoding.writeVarString(e, f.epoch)
        break
      case 'updates':
        encoding.writeVarUint(e, f.compressed ? 1 : 0)
        encoding.writeVarUint8Array(e, f.body)
        break
      case 'ack':
        encoding.writeVarUint(e, f.seq)
        break
      case 'sync-step1':
        encoding.writeVarString(e, f.docId)
        encoding.writeVarUint8Array(e, f.stateVector)
        break
      case 'sync-step2':
        encoding.writeVarString(e, f.docId)
        encoding.writeVarUint8Array(e, f.update)
        break
      case 'ping':
      case 'pong':
        encoding.writeFloat64(e, f.time)
        break
      case 'error':
        encoding.writeVarUint(e, f.code)
        encoding.writeVarString(e, f.message)
        break
    }
    return encoding.toUint8Array(e)
  }

  decode(bytes: Uint8Array): LinkFrame {
    if (bytes.length > MAX_FRAME_BYTES) throw new FrameError(`frame of ${bytes.length} bytes is over ${MAX_FRAME_BYTES}`, 4413)
    try {
      const d = decoding.createDecoder(bytes)
      const type = decoding.readVarUint(d)
      let f: LinkFrame
      switch (type) {
        case T.hello: {
          const v = decoding.readVarUint(d)
          if (v !== LINK_VERSION) throw new FrameError(`link protocol version ${v}; this node speaks ${LINK_VERSION}`, 4409)
          const code = decoding.readVarString(d)
          if (!CODE.test(code)) throw new FrameError('hello: bad node code')
          f = { type: 'hello', code, role: decoding.readVarUint(d) === 0 ? 'parent' : 'child', received: decoding.readVarUint(d), latest: decoding.readVarUint(d), epoch: decoding.readVarString(d) }
          break
        }
        case T.updates:
          f = { type: 'updates', compressed: (decoding.readVarUint(d) & 1) === 1, body: decoding.readVarUint8Array(d) }
          break
        case T.ack:
          f = { type: 'ack', seq: decoding.readVarUint(d) }
          break
        case T['sync-step1']:
        case T['sync-step2']: {
          const docId = decoding.readVarString(d)
          if (!DOC.test(docId)) throw new FrameError(`bad document id "${docId.slice(0, 60)}"`)
          const bytes = decoding.readVarUint8Array(d)
          f = type === T['sync-step1'] ? { type: 'sync-step1', docId, stateVector: bytes } : { type: 'sync-step2', docId, update: bytes }
          break
        }
        case T.ping:
        case T.pong:
          f = { type: type === T.ping ? 'ping' : 'pong', time: decoding.readFloat64(d) }
          break
        case T.error:
          f = { type: 'error', code: decoding.readVarUint(d), message: decoding.readVarString(d).slice(0, 500) }
          break
        default:
          throw new FrameError(`unknown frame type ${type}`)
      }
      if (decoding.hasContent(d)) throw new FrameError(`${f.type} frame has trailing bytes`)
      return f
    } catch (e) {
      if (e instanceof FrameError) throw e
      throw new FrameError(`truncated or malformed frame: ${(e as Error).message}`)
    }
  }

  encodeBody(entries: BodyEntry[]): Uint8Array {
    const e = encoding.createEncoder()
    encoding.writeVarUint(e, entries.length)
    for (const x of entries) {
      encoding.writeVarUint(e, x.seq)
      encoding.writeVarString(e, x.docId)
      encoding.writeVarUint8Array(e, x.update)
    }
    return encoding.toUint8Array(e)
  }

  decodeBody(bytes: Uint8Array): BodyEntry[] {
    try {
      const d = decoding.createDecoder(bytes)
      const n = decoding.readVarUint(d)
      if (n > 100_000) throw new FrameError(`updates frame claims ${n} entries`)
      const out: BodyEntry[] = []
      let last = -1
      for (let i = 0; i < n; i++) {
        const seq = decoding.readVarUint(d)
        const docId = decoding.readVarString(d)
        if (!DOC.test(docId)) throw new FrameError(`bad document id "${docId.slice(0, 60)}"`)
        if (seq <= last) throw new FrameError('update sequences must increase within a frame')
        last = seq
        out.push({ seq, docId, update: decoding.readVarUint8Array(d) })
      }
      return out
    } catch (e) {
      if (e instanceof FrameError) throw e
      throw new FrameError(`malformed updates body: ${(e as Error).message}`)
    }
  }
}
