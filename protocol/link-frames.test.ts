import * as encoding from 'lib0/encoding'
import * as fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { LINK_CLOSE_CODES, LINK_FRAME_TYPES } from './codes.ts'
import {
  CHUNK_BYTES, DocIdSchema, FrameError, LINK_PROTOCOL_VERSION, MAX_CHUNKS, MAX_FRAME_BYTES, MAX_MESSAGE_BYTES,
  MAX_STREAMS, Reassembler, TARGET_FRAME_BYTES, decodeFrame, receiveFrom, sendFrom, decodeReassembled, decodeUpdatesBody, encodeFrame,
  encodeMessage, encodeUpdatesBody, entryBytes, formatDocId, packUpdates, parseDocId,
  type ChunkFrame, type DocId, type LinkFrame, type UpdateEntry,
} from './link-frames.ts'

// ---------------------------------------------------------------------------------------------
// Arbitraries: valid codes, document ids and frames

const pad = (n: number, w: number) => String(n).padStart(w, '0')

/** A valid division code of any level (digits 3–4 never 00, every level below non-zero). */
const codeArb = fc
  .record({
    city: fc.integer({ min: 11, max: 65 }), sub: fc.integer({ min: 1, max: 99 }), county: fc.integer({ min: 1, max: 99 }),
    township: fc.integer({ min: 1, max: 999 }), village: fc.integer({ min: 1, max: 999 }), depth: fc.integer({ min: 0, max: 3 }),
  })
  .map(({ city, sub, county, township, village, depth }) =>
    (pad(city, 2) + pad(sub, 2) + (depth >= 1 ? pad(county, 2) : '') + (depth >= 2 ? pad(township, 3) : '') + (depth >= 3 ? pad(village, 3) : '')).padEnd(12, '0'))

const monthArb = fc.tuple(fc.integer({ min: 2000, max: 2099 }), fc.integer({ min: 1, max: 12 })).map(([y, m]) => `${y}-${pad(m, 2)}`)

const docArb: fc.Arbitrary<DocId> = fc.oneof(
  fc.tuple(codeArb, fc.integer({ min: 20000101, max: 20991231 }), fc.integer({ min: 1, max: 999_999 }), fc.integer({ min: 4, max: 6 }))
    .map(([originCode, date, seq, w]): DocId => ({ kind: 'case', caseId: `${originCode}-${date}-${pad(seq % 10 ** w, w)}`, originCode })),
  codeArb.map((scope): DocId => ({ kind: 'catalogue', scope })),
  fc.tuple(codeArb, monthArb, fc.constantFrom('origin' as const, 'handler' as const)).map(([nodeCode, month, dim]): DocId => ({ kind: 'stats', nodeCode, month, dim })),
)
const docIdArb = docArb.map(formatDocId)

const seqArb = fc.nat({ max: Number.MAX_SAFE_INTEGER })
const bytesArb = (max = 300) => fc.uint8Array({ minLength: 1, maxLength: max })
const stateVectorArb = fc.array(fc.tuple(fc.nat({ max: 2 ** 32 - 1 }), fc.nat()), { maxLength: 8 }).map((pairs) => {
  const e = encoding.createEncoder()
  encoding.writeVarUint(e, pairs.length)
  for (const [client, clock] of pairs) {
    encoding.writeVarUint(e, client)
    encoding.writeVarUint(e, clock)
  }
  return encoding.toUint8Array(e)
})
const epochArb = fc.stringMatching(/^[0-9A-Za-z_-]{1,64}$/)
const closeCodeArb = fc.oneof(fc.constantFrom(...Object.values(LINK_CLOSE_CODES)), fc.integer({ min: 3000, max: 4999 }))

const frameArb: fc.Arbitrary<LinkFrame> = fc.oneof(
  fc.record({
    type: fc.constant('hello' as const), code: codeArb, role: fc.constantFrom('parent' as const, 'child' as const), epoch: epochArb,
    peerEpoch: fc.oneof(fc.constant(''), epochArb), received: seqArb, latest: seqArb,
  }).map((h) => (h.peerEpoch === '' ? { ...h, received: 0 } : h)),
  fc.record({ type: fc.constant('updates' as const), compressed: fc.boolean(), body: bytesArb() }),
  fc.record({ type: fc.constant('ack' as const), seq: seqArb }),
  fc.record({ type: fc.constant('sync-step1' as const), docId: docIdArb, stateVector: stateVectorArb }),
  fc.record({ type: fc.constant('sync-step2' as const), docId: docIdArb, update: bytesArb() }),
  fc.record({ type: fc.constant('ping' as const), time: seqArb }),
  fc.record({ type: fc.constant('pong' as const), time: seqArb }),
  fc.record({ type: fc.constant('error' as const), code: closeCodeArb, message: fc.string({ maxLength: 200, unit: 'grapheme' }) }),
  fc.integer({ min: 1, max: MAX_CHUNKS }).chain((total) =>
    fc.record({ type: fc.constant('chunk' as const), streamId: seqArb, index: fc.integer({ min: 0, max: total - 1 }), total: fc.constant(total), bytes: bytesArb() })),
  fc.record({ type: fc.constantFrom('ask' as const, 'answer' as const), id: seqArb, body: fc.string({ maxLength: 300, unit: 'grapheme' }) }),
)

/** Increasing sequences, as a store hands them out. */
const entriesArb = (maxUpdate = 2000) =>
  fc.array(fc.tuple(fc.integer({ min: 1, max: 1000 }), docIdArb, bytesArb(maxUpdate)), { minLength: 1, maxLength: 60 }).map((rows) => {
    let seq = 0
    return rows.map(([step, docId, update]): UpdateEntry => ({ seq: (seq += step), docId, update }))
  })

/** Byte-for-byte equality, without the deep-equal walk that makes large arrays slow. */
const same = (a: Uint8Array | null | undefined, b: Uint8Array) => !!a && a.length === b.length && a.every((x, i) => x === b[i])

const closeCodeOf = (f: () => unknown): number => {
  try {
    f()
  } catch (e) {
    expect(e).toBeInstanceOf(FrameError)
    return (e as FrameError).closeCode
  }
  throw new Error('expected a FrameError')
}

/** A frame by hand, for what the writers refuse to produce. */
const raw = (write: (e: encoding.Encoder) => void) => {
  const e = encoding.createEncoder()
  write(e)
  return encoding.toUint8Array(e)
}

// ---------------------------------------------------------------------------------------------

describe('document ids', () => {
  it('parses each kind, and formatDocId is its inverse', () => {
    expect(parseDocId('case:511302101201-20261123-0001')).toEqual({ kind: 'case', caseId: '511302101201-20261123-0001', originCode: '511302101201' })
    expect(parseDocId('catalogue:511300000000')).toEqual({ kind: 'catalogue', scope: '511300000000' })
    expect(parseDocId('stats:511302101000:2026-11')).toEqual({ kind: 'stats', nodeCode: '511302101000', month: '2026-11', dim: 'origin' })
    expect(parseDocId('stats:511302101000:2026-11:handled')).toEqual({ kind: 'stats', nodeCode: '511302101000', month: '2026-11', dim: 'handler' })
    expect(() => parseDocId('stats:511302101000:2026-11:decided')).toThrow(/:handled/)
    expect(parseDocId('directory:tree')).toEqual({ kind: 'directory' })
    expect(formatDocId({ kind: 'directory' })).toBe('directory:tree')
    fc.assert(fc.property(docArb, (d) => {
      expect(parseDocId(formatDocId(d))).toEqual(d)
      expect(DocIdSchema.safeParse(formatDocId(d)).success).toBe(true)
    }))
  })

  it('refuses bad ids with a message that says what is wrong', () => {
    for (const [id, words] of [
      ['case:5113021012-20261123-0001', 'case:<origin code>'],
      ['case:000002101201-20261123-0001', 'names no city'],
      ['catalogue:5113', 'catalogue:<12-digit'],
      ['stats:511302101201:2026-13', 'stats:<12-digit'],
      ['room:abc', 'names no kind'],
      ['directory:511300000000', 'directory:tree'],
      ['511300000000', 'names no kind'],
      [`case:${'1'.repeat(100)}`, 'longer than'],
    ] as const) {
      const r = DocIdSchema.safeParse(id)
      expect(r.success, id).toBe(false)
      expect(r.error?.issues[0].message).toContain(words)
      expect(() => parseDocId(id)).toThrow(words)
    }
  })
})

describe('frames', () => {
  it('round-trips one frame of every type', () => {
    const frames: LinkFrame[] = [
      { type: 'hello', code: '511302101201', role: 'child', epoch: '9f3c2a11d0e4b7c8', peerEpoch: '0d1e2f3a4b5c6d7e', received: 41, latest: 1_000_003 },
      { type: 'updates', compressed: true, body: new Uint8Array([1, 2, 3]) },
      { type: 'ack', seq: 2 ** 40 },
      { type: 'sync-step1', docId: 'catalogue:511300000000', stateVector: Y.encodeStateVector(new Y.Doc()) },
      { type: 'sync-step2', docId: 'stats:511302101201:2026-11', update: Y.encodeStateAsUpdate(new Y.Doc()) },
      { type: 'ping', time: 1_795_400_000_000 },
      { type: 'pong', time: 1_795_400_000_000 },
      { type: 'error', code: 4403, message: '511302101202 is not on the path of case 511302101201-20261123-0001 (村→乡镇)' },
      { type: 'chunk', streamId: 7, index: 2, total: 3, bytes: new Uint8Array([9, 9]) },
      { type: 'piece-want', caseId: '511302101201-20261123-0001', hash: '0f'.repeat(32), offset: 16_384 },
      { type: 'piece', hash: '0f'.repeat(32), offset: 16_384, total: 16_390, bytes: new Uint8Array(6).fill(3) },
      { type: 'ask', id: 3, body: '{"kind":"progress","caseId":"511302101201-20261123-0001","phoneHash":"' + 'a'.repeat(64) + '"}' },
      { type: 'answer', id: 3, body: '{"outcome":"not-found"}' },
    ]
    expect(new Set(frames.map((f) => f.type))).toEqual(new Set(Object.keys(LINK_FRAME_TYPES)))
    for (const f of frames) {
      const bytes = encodeFrame(f)
      expect(bytes[0]).toBe(LINK_FRAME_TYPES[f.type])
      expect(decodeFrame(bytes)).toEqual(f)
    }
  })

  it('round-trips any valid frame', () => {
    fc.assert(fc.property(frameArb, (f) => {
      expect(decodeFrame(encodeFrame(f))).toEqual(f)
    }), { numRuns: 1000 })
  })

  it('round-trips any updates body, and entryBytes is what each entry adds', () => {
    fc.assert(fc.property(entriesArb(), (entries) => {
      const body = encodeUpdatesBody(entries)
      expect(decodeUpdatesBody(body)).toEqual(entries)
      expect(body.length).toBe((entries.length < 128 ? 1 : 2) + entries.reduce((n, e) => n + entryBytes(e), 0))
    }))
  })

  it('says which version the peer speaks (4409)', () => {
    const hello = raw((e) => {
      encoding.writeVarUint(e, LINK_FRAME_TYPES.hello)
      encoding.writeVarUint(e, LINK_PROTOCOL_VERSION + 1)
      encoding.writeVarString(e, '511302101201')
    })
    expect(closeCodeOf(() => decodeFrame(hello))).toBe(LINK_CLOSE_CODES.version_mismatch)
    expect(() => decodeFrame(hello)).toThrow(`version ${LINK_PROTOCOL_VERSION + 1}`)
  })

  it('checks lengths, codes, ids, flags and what follows (4400)', () => {
    const good = encodeFrame({ type: 'sync-step2', docId: 'case:511302101201-20261123-0001', update: new Uint8Array(40) })
    const cases: [string, Uint8Array, string][] = [
      ['truncated', good.subarray(0, good.length - 1), '40 bytes announced, 39 left'],
      ['trailing byte', new Uint8Array([...good, 0]), 'trailing'],
      ['empty', new Uint8Array(0), 'empty'],
      ['unknown type', new Uint8Array([0]), 'unknown frame type 0'],
      ['unknown type 200', raw((e) => encoding.writeVarUint(e, 200)), 'unknown frame type 200'],
      ['bad docId', raw((e) => {
        encoding.writeVarUint(e, LINK_FRAME_TYPES['sync-step2'])
        encoding.writeVarString(e, 'case:../../etc/passwd')
        encoding.writeVarUint8Array(e, new Uint8Array([0, 0]))
      }), 'document id'],
      ['village code with no township', raw((e) => {
        encoding.writeVarUint(e, LINK_FRAME_TYPES.hello)
        encoding.writeVarUint(e, LINK_PROTOCOL_VERSION)
        encoding.writeVarString(e, '511302000201')
      }), 'no township'],
      ['role 2', raw((e) => {
        encoding.writeVarUint(e, LINK_FRAME_TYPES.hello)
        encoding.writeVarUint(e, LINK_PROTOCOL_VERSION)
        encoding.writeVarString(e, '511302101201')
        encoding.writeVarUint(e, 2)
      }), 'role 2'],
      ['unknown flag', raw((e) => {
        encoding.writeVarUint(e, LINK_FRAME_TYPES.updates)
        encoding.writeUint8(e, 0b10)
        encoding.writeVarUint8Array(e, new Uint8Array([1]))
      }), 'unknown flags'],
      ['sequence over 2^53', raw((e) => {
        encoding.writeVarUint(e, LINK_FRAME_TYPES.ack)
        for (let i = 0; i < 8; i++) encoding.writeUint8(e, 0xff)
        encoding.writeUint8(e, 0x7f)
      }), '2^53'],
      ['bad state vector', raw((e) => {
        encoding.writeVarUint(e, LINK_FRAME_TYPES['sync-step1'])
        encoding.writeVarString(e, 'catalogue:511300000000')
        encoding.writeVarUint8Array(e, new Uint8Array([3, 1, 1]))
      }), 'state vector'],
      ['close code 2000', raw((e) => {
        encoding.writeVarUint(e, LINK_FRAME_TYPES.error)
        encoding.writeVarUint(e, 2000)
        encoding.writeVarString(e, 'x')
      }), 'not a close code'],
      ['invalid UTF-8', raw((e) => {
        encoding.writeVarUint(e, LINK_FRAME_TYPES.error)
        encoding.writeVarUint(e, 4400)
        encoding.writeVarUint8Array(e, new Uint8Array([0xc3, 0x28]))
      }), 'not UTF-8'],
      ['chunk index past total', raw((e) => {
        encoding.writeVarUint(e, LINK_FRAME_TYPES.chunk)
        encoding.writeVarUint(e, 1)
        encoding.writeVarUint(e, 3)
        encoding.writeVarUint(e, 3)
        encoding.writeVarUint8Array(e, new Uint8Array([1]))
      }), 'index 3 of 3'],
    ]
    for (const [name, bytes, words] of cases) {
      expect(closeCodeOf(() => decodeFrame(bytes)), name).toBe(LINK_CLOSE_CODES.malformed_frame)
      expect(() => decodeFrame(bytes), name).toThrow(words)
    }
  })

  it('checks an updates body: increasing sequences, ids, lengths', () => {
    const entry = { seq: 5, docId: 'case:511302101201-20261123-0001', update: new Uint8Array([1, 2]) }
    expect(() => decodeUpdatesBody(raw((e) => encoding.writeVarUint(e, 0)))).toThrow('no entries')
    expect(() => decodeUpdatesBody(raw((e) => encoding.writeVarUint(e, 1_000_000)))).toThrow('cannot fit')
    const twice = encodeUpdatesBody([entry]).subarray(1)
    expect(() => decodeUpdatesBody(new Uint8Array([2, ...twice, ...twice]))).toThrow('sequence 5 after 5')
    // The writer refuses what the reader would.
    expect(closeCodeOf(() => encodeUpdatesBody([entry, { ...entry, seq: 4 }]))).toBe(LINK_CLOSE_CODES.internal)
    expect(closeCodeOf(() => encodeUpdatesBody([{ ...entry, docId: 'case:x' }]))).toBe(LINK_CLOSE_CODES.internal)
    expect(closeCodeOf(() => encodeUpdatesBody([]))).toBe(LINK_CLOSE_CODES.internal)
  })

  it('writers refuse what readers would refuse (4500, our own fault)', () => {
    const bad: LinkFrame[] = [
      { type: 'hello', code: '51130', role: 'child', epoch: 'e', peerEpoch: 'p', received: 0, latest: 0 },
      { type: 'hello', code: '511302101201', role: 'child', epoch: 'e', peerEpoch: 'p', received: -1, latest: 0 },
      { type: 'hello', code: '511302101201', role: 'child', epoch: '', peerEpoch: 'p', received: 0, latest: 0 },
      { type: 'hello', code: '511302101201', role: 'child', epoch: 'e', peerEpoch: '', received: 3, latest: 0 },
      { type: 'hello', code: '511302101201', role: 'uncle' as 'child', epoch: 'e', peerEpoch: 'p', received: 0, latest: 0 },
      { type: 'ack', seq: 1.5 },
      { type: 'ping', time: Number.MAX_SAFE_INTEGER + 2 },
      { type: 'sync-step1', docId: 'case:1', stateVector: new Uint8Array([0]) },
      { type: 'sync-step1', docId: 'catalogue:511300000000', stateVector: new Uint8Array([1]) },
      { type: 'error', code: 42, message: 'x' },
      { type: 'chunk', streamId: 1, index: 3, total: 3, bytes: new Uint8Array([1]) },
    ]
    for (const f of bad) expect(closeCodeOf(() => encodeFrame(f)), JSON.stringify(f)).toBe(LINK_CLOSE_CODES.internal)
  })

  it('cuts a long error message instead of refusing it', () => {
    const f = decodeFrame(encodeFrame({ type: 'error', code: 4500, message: '库'.repeat(5000) }))
    expect(f.type === 'error' && f.message.endsWith('…') && new TextEncoder().encode(f.message).length <= 1024).toBe(true)
  })
})

describe('resuming', () => {
  const A = { epoch: 'a1', latest: 1000 }

  it('resumes after a cursor that counts in this store and does not run past it', () => {
    expect(sendFrom({ peerEpoch: 'a1', received: 640 }, A)).toEqual({ after: 640, repair: false })
    expect(sendFrom({ peerEpoch: 'a1', received: 1000 }, A)).toEqual({ after: 1000, repair: false })
  })

  it('restarts from 0, with a repair pass, when the store was rebuilt or restored', () => {
    expect(sendFrom({ peerEpoch: 'old', received: 640 }, A)).toEqual({ after: 0, repair: true })
    expect(sendFrom({ peerEpoch: 'a1', received: 1200 }, A)).toEqual({ after: 0, repair: true })
    // First contact: from the start, and nothing to repair.
    expect(sendFrom({ peerEpoch: '', received: 0 }, A)).toEqual({ after: 0, repair: false })
  })

  it('both ends judge every hello pair alike', () => {
    fc.assert(fc.property(epochArb, fc.oneof(fc.constant(''), epochArb), fc.nat(), fc.nat(), (epoch, heldEpoch, received, latest) => {
      const held = { peerEpoch: heldEpoch, received: heldEpoch === '' ? 0 : received }
      const peer = { epoch, latest }
      // What B streams to A (B's sendFrom on A's hello) is what A expects (A's receiveFrom on B's hello).
      expect(sendFrom(held, peer)).toEqual(receiveFrom(peer, held))
    }))
  })
})

describe('size limits', () => {
  /** A sync-step2 frame of exactly `size` bytes. */
  const frameOf = (size: number): LinkFrame => {
    const docId = 'case:511302101201-20261123-0001'
    return { type: 'sync-step2', docId, update: new Uint8Array(size - 1 - (1 + docId.length) - 3).fill(7) }
  }

  it('takes a frame of MAX_FRAME_BYTES and refuses one byte more (4413)', () => {
    const max = encodeFrame(frameOf(MAX_FRAME_BYTES))
    expect(max.length).toBe(MAX_FRAME_BYTES)
    const back = decodeFrame(max)
    expect(back.type === 'sync-step2' && same(back.update, (frameOf(MAX_FRAME_BYTES) as { update: Uint8Array }).update)).toBe(true)
    expect(closeCodeOf(() => decodeFrame(new Uint8Array(MAX_FRAME_BYTES + 1)))).toBe(LINK_CLOSE_CODES.frame_too_large)
    expect(closeCodeOf(() => decodeFrame(new Uint8Array([...max, 0])))).toBe(LINK_CLOSE_CODES.frame_too_large)
    expect(closeCodeOf(() => encodeFrame(frameOf(MAX_FRAME_BYTES + 1)))).toBe(LINK_CLOSE_CODES.frame_too_large)
  })

  it('sends a frame that fits as itself, a larger one in chunks, and refuses one over MAX_MESSAGE_BYTES', () => {
    const one = encodeMessage(frameOf(MAX_FRAME_BYTES), 1)
    expect(one.length === 1 && same(one[0], encodeFrame(frameOf(MAX_FRAME_BYTES)))).toBe(true)
    const big = frameOf(3 * MAX_FRAME_BYTES + 5)
    const wire = encodeMessage(big, 1)
    expect(wire.length).toBe(Math.ceil((3 * MAX_FRAME_BYTES + 5) / CHUNK_BYTES))
    for (const w of wire) expect(w.length).toBeLessThanOrEqual(MAX_FRAME_BYTES)
    const r = new Reassembler()
    const out = wire.map((w) => r.push(decodeFrame(w) as ChunkFrame))
    expect(out.slice(0, -1).every((x) => x === null)).toBe(true)
    const back = decodeReassembled(out.at(-1)!)
    expect(back.type === 'sync-step2' && big.type === 'sync-step2' && back.docId === big.docId && same(back.update, big.update)).toBe(true)
    expect(closeCodeOf(() => encodeMessage(frameOf(MAX_MESSAGE_BYTES + 1), 1))).toBe(LINK_CLOSE_CODES.frame_too_large)
    expect(closeCodeOf(() => decodeReassembled(new Uint8Array(MAX_MESSAGE_BYTES + 1)))).toBe(LINK_CLOSE_CODES.frame_too_large)
    expect(closeCodeOf(() => decodeUpdatesBody(new Uint8Array(MAX_MESSAGE_BYTES + 1)))).toBe(LINK_CLOSE_CODES.frame_too_large)
  })

  it('refuses a chunk inside a chunk stream', () => {
    const inner = encodeFrame({ type: 'chunk', streamId: 1, index: 0, total: 1, bytes: new Uint8Array([1]) })
    expect(() => decodeReassembled(inner)).toThrow('chunk inside')
  })
})

describe('packUpdates', () => {
  const frameBytes = (batch: UpdateEntry[]) => encodeFrame({ type: 'updates', compressed: false, body: encodeUpdatesBody(batch) }).length

  it('keeps order, keeps each frame within the target, and fills each frame before starting the next', () => {
    fc.assert(fc.property(entriesArb(5000), fc.integer({ min: 200, max: TARGET_FRAME_BYTES }), (entries, target) => {
      const batches = packUpdates(entries, target)
      expect(batches.flat()).toEqual(entries)
      batches.forEach((batch, i) => {
        expect(batch.length).toBeGreaterThan(0)
        if (batch.length > 1) expect(frameBytes(batch)).toBeLessThanOrEqual(target)
        else if (frameBytes(batch) > target) expect(entryBytes(batch[0])).toBeGreaterThan(target - 8)
        // Greedy: the next batch's first entry did not fit in this one.
        if (i + 1 < batches.length) expect(frameBytes([...batch, batches[i + 1][0]])).toBeGreaterThan(target)
      })
    }), { numRuns: 300 })
  })

  it('sends an update larger than the target alone', () => {
    const e = (seq: number, n: number): UpdateEntry => ({ seq, docId: 'catalogue:511300000000', update: new Uint8Array(n) })
    const batches = packUpdates([e(1, 100), e(2, 40_000), e(3, 100), e(4, 100)])
    expect(batches.map((b) => b.map((x) => x.seq))).toEqual([[1], [2], [3, 4]])
    expect(packUpdates([])).toEqual([])
  })
})

describe('Reassembler', () => {
  const message = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31) & 0xff)
  const chunks = (bytes: Uint8Array, streamId: number, piece: number): ChunkFrame[] => {
    const total = Math.ceil(bytes.length / piece)
    return Array.from({ length: total }, (_, index) => ({ type: 'chunk', streamId, index, total, bytes: bytes.subarray(index * piece, (index + 1) * piece) }))
  }

  it('reassembles pieces in any order, interleaved with another stream', () => {
    fc.assert(fc.property(
      fc.integer({ min: 1, max: 5000 }), fc.integer({ min: 2, max: 700 }), fc.integer({ min: 1, max: 5000 }), fc.nat(),
      (n, piece, m, seed) => {
        const a = message(n)
        const b = message(m).reverse()
        const all = [...chunks(a, 1, piece), ...chunks(b, 2, piece)]
        // A seeded shuffle: the order fast-check shrinks along with the sizes.
        let s = seed
        for (let i = all.length - 1; i > 0; i--) {
          s = (s * 1103515245 + 12345) % 2 ** 31
          const j = s % (i + 1);
          [all[i], all[j]] = [all[j], all[i]]
        }
        const r = new Reassembler()
        const done = new Map<number, Uint8Array>()
        for (const c of all) {
          const whole = r.push(c)
          if (whole) done.set(c.streamId, whole)
        }
        expect(same(done.get(1), a)).toBe(true)
        expect(same(done.get(2), b)).toBe(true)
        expect(r.openStreams).toBe(0)
        expect(r.bufferedBytes).toBe(0)
      },
    ), { numRuns: 200 })
  })

  it('rejects a stream over the size cap (4413) and forgets it', () => {
    const r = new Reassembler({ maxMessageBytes: 1000 })
    const [c0, c1, c2] = chunks(message(1200), 9, 400)
    expect(r.push(c0)).toBeNull()
    expect(r.push(c1)).toBeNull()
    expect(closeCodeOf(() => r.push(c2))).toBe(LINK_CLOSE_CODES.frame_too_large)
    expect(r.openStreams).toBe(0)
    expect(closeCodeOf(() => new Reassembler({ maxMessageBytes: 10 }).push({ type: 'chunk', streamId: 1, index: 0, total: 1, bytes: message(11) })))
      .toBe(LINK_CLOSE_CODES.frame_too_large)
  })

  it('caps the streams open at once (4413)', () => {
    const r = new Reassembler()
    for (let id = 0; id < MAX_STREAMS; id++) expect(r.push(chunks(message(10), id, 4)[0])).toBeNull()
    expect(closeCodeOf(() => r.push(chunks(message(10), 99, 4)[0]))).toBe(LINK_CLOSE_CODES.frame_too_large)
    // Finishing a stream frees its place.
    for (const c of chunks(message(10), 0, 4).slice(1)) r.push(c)
    expect(r.push(chunks(message(10), 99, 4)[0])).toBeNull()
  })

  it('refuses a piece that contradicts its stream (4400)', () => {
    const r = new Reassembler()
    const [c0, c1] = chunks(message(10), 3, 4)
    r.push(c0)
    expect(closeCodeOf(() => r.push(c0))).toBe(LINK_CLOSE_CODES.malformed_frame)
    r.push(c0)
    expect(closeCodeOf(() => r.push({ ...c1, total: 5 }))).toBe(LINK_CLOSE_CODES.malformed_frame)
  })

  it('keeps its own copy of each piece', () => {
    const r = new Reassembler()
    const bytes = message(8)
    const [c0, c1] = chunks(bytes, 1, 4)
    r.push(c0)
    bytes[0] = 255 // the transport reused its buffer
    expect(r.push(c1)![0]).toBe(0)
  })
})

describe('never crashes on arbitrary input', () => {
  /** decodeFrame either returns a frame that encodes back to itself, or throws a FrameError with a known close code. */
  const knownCodes: number[] = Object.values(LINK_CLOSE_CODES)
  const frameOrFrameError = (bytes: Uint8Array) => {
    let f: LinkFrame
    try {
      f = decodeFrame(bytes)
    } catch (e) {
      if (!(e instanceof FrameError)) throw e
      expect(knownCodes).toContain(e.closeCode)
      return
    }
    expect(decodeFrame(encodeFrame(f))).toEqual(f)
    if (f.type === 'updates') bodyOrFrameError(f.body)
    if (f.type === 'chunk') {
      try {
        new Reassembler().push(f)
      } catch (e) {
        if (!(e instanceof FrameError)) throw e
      }
    }
  }
  const bodyOrFrameError = (bytes: Uint8Array) => {
    try {
      const entries = decodeUpdatesBody(bytes)
      expect(decodeUpdatesBody(encodeUpdatesBody(entries))).toEqual(entries)
    } catch (e) {
      if (!(e instanceof FrameError)) throw e
    }
  }

  it('random bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 400 }), frameOrFrameError), { numRuns: 2000 })
  })

  it('random bytes after a valid frame type', () => {
    fc.assert(fc.property(fc.constantFrom(...Object.values(LINK_FRAME_TYPES)), fc.uint8Array({ maxLength: 200 }), (type, rest) => {
      frameOrFrameError(new Uint8Array([type, ...rest]))
      if (type === LINK_FRAME_TYPES.hello) frameOrFrameError(new Uint8Array([type, LINK_PROTOCOL_VERSION, 12, ...rest]))
    }), { numRuns: 2000 })
  })

  const mutationArb = fc.oneof(
    fc.record({ op: fc.constant('set' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
    fc.record({ op: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
    fc.record({ op: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
    fc.record({ op: fc.constant('delete' as const), at: fc.nat(), n: fc.integer({ min: 1, max: 8 }) }),
    fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }),
  )
  type Mutation = typeof mutationArb extends fc.Arbitrary<infer M> ? M : never
  const mutate = (bytes: Uint8Array, ms: Mutation[]): Uint8Array => {
    let b = Array.from(bytes)
    for (const m of ms) {
      const at = b.length ? m.at % (b.length + 1) : 0
      if (m.op === 'set' && at < b.length) b[at] = m.byte
      if (m.op === 'flip' && at < b.length) b[at] ^= 1 << m.bit
      if (m.op === 'insert') b.splice(at, 0, ...m.bytes)
      if (m.op === 'delete') b.splice(at, m.n)
      if (m.op === 'truncate') b = b.slice(0, at)
    }
    return Uint8Array.from(b)
  }

  it('random mutations of valid frames', () => {
    fc.assert(fc.property(frameArb, fc.array(mutationArb, { minLength: 1, maxLength: 4 }), (f, ms) => {
      frameOrFrameError(mutate(encodeFrame(f), ms))
    }), { numRuns: 3000 })
  })

  it('random mutations of valid updates frames and bodies', () => {
    fc.assert(fc.property(entriesArb(200), fc.array(mutationArb, { minLength: 1, maxLength: 4 }), (entries, ms) => {
      const body = encodeUpdatesBody(entries)
      bodyOrFrameError(mutate(body, ms))
      frameOrFrameError(mutate(encodeFrame({ type: 'updates', compressed: false, body }), ms))
    }), { numRuns: 1000 })
  })
})

describe('with Yjs', () => {
  it('repairs a document with step 1 / step 2 frames, chunked when the answer is large', () => {
    const docId = 'catalogue:511300000000'
    const parent = new Y.Doc()
    const items = parent.getMap<string>('items')
    for (let i = 0; i < 3000; i++) items.set(`CX-${i}`, JSON.stringify({ name: `事项 ${i}`, materials: ['居民身份证', '户口簿'], i }))
    const child = new Y.Doc()
    child.getMap<string>('items').set('local', 'kept')

    // The child asks with its state vector…
    const ask = decodeFrame(encodeFrame({ type: 'sync-step1', docId, stateVector: Y.encodeStateVector(child) }))
    if (ask.type !== 'sync-step1') throw new Error(ask.type)
    // …the parent answers with what the child lacks: far more than one frame.
    const wire = encodeMessage({ type: 'sync-step2', docId, update: Y.encodeStateAsUpdate(parent, ask.stateVector) }, 1)
    expect(wire.length).toBeGreaterThan(1)
    const r = new Reassembler()
    let answer: LinkFrame | null = null
    for (const w of [...wire].reverse()) {
      const f = decodeFrame(w)
      if (f.type !== 'chunk') throw new Error(f.type)
      const whole = r.push(f)
      if (whole) answer = decodeReassembled(whole)
    }
    if (answer?.type !== 'sync-step2') throw new Error('no answer')
    Y.applyUpdate(child, answer.update)
    expect(child.getMap('items').size).toBe(3001)
    expect(child.getMap('items').get('CX-2999')).toBe(items.get('CX-2999'))
  })

  it('carries real updates in a body, packed into frames, applied in order', () => {
    const source = new Y.Doc()
    const entries: UpdateEntry[] = []
    source.on('update', (update: Uint8Array) => entries.push({ seq: entries.length + 1, docId: 'case:511302101201-20261123-0001', update }))
    const events = source.getArray<string>('events')
    for (let i = 0; i < 500; i++) events.push([JSON.stringify({ type: 'accepted', lamport: i, note: 'x'.repeat(i % 90) })])
    const copy = new Y.Doc()
    let acked = 0
    for (const batch of packUpdates(entries)) {
      const f = decodeFrame(encodeFrame({ type: 'updates', compressed: false, body: encodeUpdatesBody(batch) }))
      if (f.type !== 'updates') throw new Error(f.type)
      for (const e of decodeUpdatesBody(f.body)) Y.applyUpdate(copy, e.update)
      acked = batch.at(-1)!.seq
    }
    expect(acked).toBe(500)
    expect(copy.getArray('events').toJSON()).toEqual(events.toJSON())
  })
})
