import * as encoding from 'lib0/encoding'
import * as fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { AttachedInputSchema, missingPieces, PIECE_BYTES, pieceCount, pieceLength, sniffMime } from './attachments.ts'
import { EventInputSchema } from './case.ts'
import { LINK_CLOSE_CODES, LINK_FRAME_TYPES } from './codes.ts'
import { decodeFrame, encodeFrame, FrameError, type LinkFrame } from './link-frames.ts'

const HASH = 'ab'.repeat(32)
const CASE = '511302101201-20261130-0001'

function refused(bytes: Uint8Array): FrameError {
  try {
    decodeFrame(bytes)
  } catch (e) {
    expect(e).toBeInstanceOf(FrameError)
    return e as FrameError
  }
  throw new Error('the frame was read')
}

describe('sniffMime: the file type from the first bytes', () => {
  it('knows PDF, JPEG and PNG, and nothing else', () => {
    expect(sniffMime(new TextEncoder().encode('%PDF-1.7\n…'))).toBe('application/pdf')
    expect(sniffMime(Uint8Array.of(0xff, 0xd8, 0xff, 0xe0, 0, 0x10))).toBe('image/jpeg')
    expect(sniffMime(Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0))).toBe('image/png')
    expect(sniffMime(new TextEncoder().encode('GIF89a'))).toBeNull()
    expect(sniffMime(new TextEncoder().encode('<html>%PDF-'))).toBeNull()
    expect(sniffMime(Uint8Array.of(0xff, 0xd8))).toBeNull()
    expect(sniffMime(new Uint8Array(0))).toBeNull()
  })
})

describe('pieces', () => {
  it('cut a file into PIECE_BYTES pieces, the last shorter', () => {
    expect(pieceCount(1)).toBe(1)
    expect(pieceCount(PIECE_BYTES)).toBe(1)
    expect(pieceCount(PIECE_BYTES + 1)).toBe(2)
    expect(pieceLength(PIECE_BYTES + 5, PIECE_BYTES)).toBe(5)
    expect(pieceLength(PIECE_BYTES + 5, 0)).toBe(PIECE_BYTES)
    expect(pieceLength(PIECE_BYTES + 5, 7)).toBe(0) // not a piece's start
    expect(pieceLength(PIECE_BYTES + 5, 2 * PIECE_BYTES)).toBe(0) // past the end
  })

  it('what is missing is every piece not held, in order, and nothing held', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 40 * PIECE_BYTES }), fc.array(fc.nat({ max: 50 })), (size, heldIdx) => {
      const held = heldIdx.map((i) => i * PIECE_BYTES)
      const missing = missingPieces(size, held)
      const all = Array.from({ length: pieceCount(size) }, (_, i) => i * PIECE_BYTES)
      expect(missing).toEqual(all.filter((o) => !held.includes(o)))
    }))
  })
})

describe('the attached event', () => {
  it('is an action input with a hash, a size, a taken type and a name', () => {
    const ok = { type: 'attached', hash: HASH, size: 200_000, mime: 'image/jpeg', name: '身份证正面.jpg', material: '居民身份证' }
    expect(EventInputSchema.parse(ok)).toEqual(ok)
    expect(AttachedInputSchema.safeParse({ ...ok, mime: 'image/gif' }).success).toBe(false)
    expect(AttachedInputSchema.safeParse({ ...ok, hash: HASH.toUpperCase() }).success).toBe(false)
    expect(AttachedInputSchema.safeParse({ ...ok, size: 0 }).success).toBe(false)
    expect(AttachedInputSchema.safeParse({ ...ok, name: ' ' }).success).toBe(false)
  })
})

describe('piece-want and piece frames', () => {
  const frames: LinkFrame[] = [
    { type: 'piece-want', caseId: CASE, hash: HASH, offset: 0 },
    { type: 'piece-want', caseId: CASE, hash: HASH, offset: 5 * PIECE_BYTES },
    { type: 'piece', hash: HASH, offset: 0, total: 10, bytes: new Uint8Array(10).fill(7) },
    { type: 'piece', hash: HASH, offset: PIECE_BYTES, total: 3 * PIECE_BYTES, bytes: new Uint8Array(PIECE_BYTES).fill(1) },
    { type: 'piece', hash: HASH, offset: 0, total: 0, bytes: new Uint8Array(0) },
  ]

  it('read back as written, with the type numbers of codes.ts', () => {
    for (const f of frames) {
      const bytes = encodeFrame(f)
      expect(bytes[0]).toBe(LINK_FRAME_TYPES[f.type])
      expect(decodeFrame(bytes)).toEqual(f)
    }
  })

  it('any piece of any file round-trips', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 8 * PIECE_BYTES }), fc.nat({ max: 7 }), fc.uint8Array({ minLength: 32, maxLength: 32 }), (total, i, h) => {
      const offset = Math.min(i, pieceCount(total) - 1) * PIECE_BYTES
      const hash = Array.from(h, (b) => b.toString(16).padStart(2, '0')).join('')
      const f: LinkFrame = { type: 'piece', hash, offset, total, bytes: new Uint8Array(pieceLength(total, offset)).fill(i) }
      expect(decodeFrame(encodeFrame(f))).toEqual(f)
    }), { numRuns: 50 })
  })

  it('refuse to write what the reader would refuse', () => {
    expect(() => encodeFrame({ type: 'piece-want', caseId: 'nope', hash: HASH, offset: 0 })).toThrow(FrameError)
    expect(() => encodeFrame({ type: 'piece-want', caseId: CASE, hash: 'xyz', offset: 0 })).toThrow(/64 lowercase hex/)
    expect(() => encodeFrame({ type: 'piece-want', caseId: CASE, hash: HASH, offset: 100 })).toThrow(/multiple of/)
    expect(() => encodeFrame({ type: 'piece', hash: HASH, offset: 0, total: 100, bytes: new Uint8Array(99) })).toThrow(/not 100/)
    expect(() => encodeFrame({ type: 'piece', hash: HASH, offset: PIECE_BYTES, total: 100, bytes: new Uint8Array(1) })).toThrow(/past the file's end/)
  })

  /** A piece frame written by hand, past the writer's checks. */
  function rawPiece(offset: number, total: number, bytes: Uint8Array, hashBytes = 32): Uint8Array {
    const e = encoding.createEncoder()
    encoding.writeVarUint(e, LINK_FRAME_TYPES.piece)
    for (let i = 0; i < hashBytes; i++) encoding.writeUint8(e, 0xab)
    if (hashBytes === 32) {
      encoding.writeVarUint(e, offset)
      encoding.writeVarUint(e, total)
      encoding.writeVarUint8Array(e, bytes)
    }
    return encoding.toUint8Array(e)
  }

  it('a peer’s bad piece closes the link with 4400, naming what is wrong', () => {
    expect(refused(rawPiece(0, 100, new Uint8Array(50))).message).toMatch(/has 50 bytes, not 100/)
    expect(refused(rawPiece(0, 0, new Uint8Array(3))).message).toMatch(/carries no bytes/)
    expect(refused(rawPiece(3, 100, new Uint8Array(97))).message).toMatch(/multiple of/)
    expect(refused(rawPiece(0, 10 * PIECE_BYTES, new Uint8Array(PIECE_BYTES + 1))).message).toMatch(/at most/)
    expect(refused(rawPiece(0, 0, new Uint8Array(0), 10)).message).toMatch(/truncated/)
    for (const bad of [rawPiece(0, 100, new Uint8Array(50)), rawPiece(0, 0, new Uint8Array(0), 10)]) {
      expect(refused(bad).closeCode).toBe(LINK_CLOSE_CODES.malformed_frame)
    }
  })
})
