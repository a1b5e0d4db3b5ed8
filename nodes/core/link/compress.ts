/**
 * Frame compression: raw deflate with the link's preset dictionary (protocol/link-dictionary.ts).
 */
import { LINK_DICTIONARY } from '../../../protocol/link-dictionary.ts'
import { deflateRawSync, inflateRawSync, constants } from 'node:zlib'

const DICTIONARY = Buffer.from(LINK_DICTIONARY)

export function compress(bytes: Uint8Array): Uint8Array {
  return deflateRawSync(bytes, { level: constants.Z_BEST_COMPRESSION, dictionary: DICTIONARY })
}

/** Inflates at most `maxBytes` (a compressed frame must not expand without bound). */
export function decompress(bytes: Uint8Array, maxBytes: number): Uint8Array {
  return inflateRawSync(bytes, { dictionary: DICTIONARY, maxOutputLength: maxBytes })
}
