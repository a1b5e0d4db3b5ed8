/**
 * A closed case's merged update, stored compressed (issue 11, goal 3: < 2 KB a closed case).
 *
 * PostgreSQL compresses a value only when its row passes ~2 KB (TOAST_TUPLE_THRESHOLD; the
 * table's toast_tuple_target cannot lower that trigger), and a merged case document is ~1.4 KB
 * of Yjs update: stored as it is, it is most of a closed case's bytes. Packed, ~0.7 KB.
 *
 * Format: PACKED_MAGIC, then zlib's deflate of the update with the preset dictionary below.
 * zlib's trailer (adler32 of the whole update) and the dictionary's id are checked on every
 * read: a damaged row throws rather than feeding Yjs garbage. The first two bytes, 00 00, are
 * by themselves a whole empty Yjs update (no structs, no deletes): Yjs's encoder never stores
 * an update that begins so (a change that changes nothing is not stored; a peer's bytes that
 * change nothing are dropped before storing), and a reader that did not unpack would apply
 * nothing rather than garbage.
 *
 * Who unpacks: the store (store/pglite.ts and store/pg.ts) unpacks every `update` column it
 * reads, so every reader of doc_updates — documents, the link, escrow — sees Yjs updates.
 */
import { deflateSync, inflateSync } from 'node:zlib'

/** 00 00 (an empty Yjs update), 't' 'b' (tongban), 1 (the dictionary's version). */
const PACKED_MAGIC = Uint8Array.of(0x00, 0x00, 0x74, 0x62, 0x01)

/**
 * Dictionary version 1 — never change it: rows packed with it are read with it. (Another
 * dictionary takes another version byte.) The strings of events a sample lacks, each as Yjs
 * writes a string ('w', length), then the merged update of a sample closed case (the county
 * fill's layout, bench/lib/county-fill.ts; a made-up applicant): keys, codes, dates and event
 * types that every case document repeats. 1,770 bytes.
 */
const DICT_V1 = Buffer.from(
  'dxRjb3JyZWN0aW9uLXJlcXVlc3RlZHcHcmVzdW1lZHcGZGVuaWVkdwdyZWZ1c2Vkdwl3aXRoZHJhd253CHN1cHBsaWVkdwlyZWN0' +
  'aWZpZWR3FXJlY3RpZmljYXRpb24tY2hlY2tlZHcLdHJhbnNmZXJyZWR3BnJlYXNvbncEbm90ZXcHY29tbWVudHcFcmVwbHl3BnBh' +
  'c3NlZHcCdG93CGRlZmVycmVkdwhwYXJhbGxlbHcKZGVwYXJ0bWVudHcHZHVlRGF0ZXcHb3BpbmlvbncFYWdyZWV3CGF0dGFjaGVk' +
  'dwRoYXNodwRzaXpldwRtaW1ldwppbWFnZS9qcGVndw9hcHBsaWNhdGlvbi9wZGZ3B2luc3RhbnR3DOeql+WPo+S6uuWRmHcM5LiN' +
  '5LqI5Y+X55CGdxXkuI3nrKblkIjlip7nkIbmnaHku7Z3CeeUs+ivt+S6uncM5Lmh6ZWH56qX5Y+jdwzmnZHku6Plip7ngrl3BTIw' +
  'MjUtdwUyMDI2LXcGNTExMzAyAgECAAgBBmV2ZW50cwR2BwR0eXBldwhhY2NlcHRlZAdsYW1wb3J0fQEGYXV0aG9ydww1MTEzMDIw' +
  'MDAwMDAEdXNlcncM5Y6/57qn56qX5Y+jAmF0dxgyMDI2LTAxLTA3VDIwOjE2OjAwLjAwMFoCaWR3Fmp5S1Y2OFhqcHljbjdYMTBj' +
  'bXZKVFADc2lnd1Zvb2ZJUm5UZXoxdndsai1rT2p0aUJRbnNUUHRGMHRlRnFfM05GUmZVeWEwZnlXT2JSODM0TkJ6N1FaVzZ2YVNj' +
  'STZjS216RVg4TmJpaU10LVJOd0VCd3YHBHR5cGV3CGFwcHJvdmVkB2xhbXBvcnR9AgZhdXRob3J3DDUxMTMwMjAwMDAwMAR1c2Vy' +
  'dwzljr/nuqfnqpflj6MCYXR3GDIwMjYtMDEtMDhUMTk6MDM6MDAuMDAwWgJpZHcWZHVyeHdPTDF6NWRZMy1DRDhPLTNjegNzaWd3' +
  'Vk1oRDlVaEtxa1FOUk9lZjBzcmN5SlV1RGJsRXIxV0p3V1BCS0dQUi0xM0FvN0JRMFVQRnBHYUk3UzZRYXJZRGR5X3Y1NEkwVDRS' +
  'Wk82QTNMcXVCTERndgcEdHlwZXcJZGVsaXZlcmVkB2xhbXBvcnR9AwZhdXRob3J3DDUxMTMwMjEwMTAwMAR1c2Vydwznqpflj6Pk' +
  'urrlkZgCYXR3GDIwMjYtMDEtMDhUMjE6MDM6MDAuMDAwWgJpZHcWX1FqaUpRclpZR1Z3WFo3VjVJQzZnUQNzaWd3VkpBN2lSTk9D' +
  'NHNlQmpXQktuTElRbzBxZkNZWk5CcmlqNEh5UE1aTzNKRjlGazJSa29pRGxrODBicXRYRWk3dUZ1dC1lWnFLTkk1NXU1Q2JncGJQ' +
  'bkNBdggEdHlwZXcFcmF0ZWQGcmF0aW5nfQUHbGFtcG9ydH0EBmF1dGhvcncMNTExMzAyMTAxMDAwBHVzZXJ3CeeUs+ivt+S6ugJh' +
  'dHcYMjAyNi0wMS0wOFQyMToxMzowMC4wMDBaAmlkdxZ2VnJJVFpzTVJMX2M4Sy1XblBhN3M3A3NpZ3dWU3k1elQzZzNKRmpZSkpo' +
  'c3dvMzNyaUxBdGE4Z2pCOGJZSjJLcF9fNF9MZ0t6YmhOd1ZFRzJ0S1duM2pRbGNNYnduU1BDcG9SaTh3eVJ1SlJmUjY5QncBAQAo' +
  'AQRjYXNlC2FwcGxpY2F0aW9uAXYMAmlkdxo1MTEzMDIxMDEwMDAtMjAyNjAxMDctMDAwMQhpdGVtQ29kZXcFQy0wMDYLaXRlbVZl' +
  'cnNpb259AQlhcHBsaWNhbnR2BARuYW1ldwblvKDkuIkGaWRUeXBldwtyZXNpZGVudC1pZAhpZE51bWJlcncSNTExMzAyMTkwMDAx' +
  'MDEwMDAwBXBob25ldwsxMzkwMDAwMDAwMAltYXRlcmlhbHN1BHcP5bGF5rCR6Lqr5Lu96K+BdwnmiLflj6PnsL93Hui/keacn+WF' +
  'jeWGoOS6jOWvuOW9qeiJsueFp+eJh3cP5q6L55a+6K+E5a6a6KGoCm9yaWdpbkNvZGV3DDUxMTMwMjEwMTAwMAtoYW5kbGVyQ29k' +
  'ZXcMNTExMzAyMDAwMDAwCWNyZWF0ZWRBdHcYMjAyNi0wMS0wN1QwMDo0NzowMC4wMDBaCWNyZWF0ZWRCeXcJ5Luj5Yqe5ZGYBGtp' +
  'bmR3CHByb21pc2VkDHByb21pc2VkRGF5c30PA3NpZ3dWdTJKZlg1d1dubjdDZDRpdGpuQTFQOTU2VGF1ZVlmUkVjNTFOMk94M3di' +
  'VzRySnRnb3JneWxTY0liakowRVI2Y01tR1RUMlVyTHRzSlhZQWNNUVZsREEA',
  'base64',
)

/** Is this stored update packed? */
export function isPacked(b: Uint8Array): boolean {
  if (b.length <= PACKED_MAGIC.length) return false
  for (let i = 0; i < PACKED_MAGIC.length; i++) if (b[i] !== PACKED_MAGIC[i]) return false
  return true
}

/** The packed form of a Yjs update (the update itself when packing would not make it smaller). */
export function packUpdate(update: Uint8Array): Uint8Array {
  const z = deflateSync(update, { level: 9, dictionary: DICT_V1 })
  if (z.length + PACKED_MAGIC.length >= update.length) return update
  const out = new Uint8Array(PACKED_MAGIC.length + z.length)
  out.set(PACKED_MAGIC, 0)
  out.set(z, PACKED_MAGIC.length)
  return out
}

/** The Yjs update a stored value holds (unpacked when packed; as it is otherwise). Throws on a damaged packed value. */
export function unpackUpdate(b: Uint8Array): Uint8Array {
  if (!isPacked(b)) return b
  const raw = inflateSync(b.subarray(PACKED_MAGIC.length), { dictionary: DICT_V1 })
  return new Uint8Array(raw.buffer, raw.byteOffset, raw.length)
}

/** Unpacks the `update` field of result rows in place (the stores call it on every result). */
export function unpackRows<T>(rows: T[]): T[] {
  for (const r of rows as Record<string, unknown>[]) {
    const u = r?.update
    if (u instanceof Uint8Array && isPacked(u)) r.update = unpackUpdate(u)
  }
  return rows
}
