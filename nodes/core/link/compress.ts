/**
 * Frame compression: raw deflate with the link's preset dictionary (protocol/link-dictionary.ts).
 */
import { LINK_CLOSE_CODES, FrameError } from '../../../protocol/index.ts'
import { LINK_DICTIONARY } from '../../../protocol/link-dictionary.ts'
import { deflateRawSync, inflateRawSync, constants } from 'node:zlib'

const DICTIONARY = Buffer.from(LINK_DICTIONARY)

export function compress(bytes: Uint8Array): Uint8Array {
  return deflateRawSync(bytes, { level: constants.Z_BEST_COMPRESSION, dictionary: DICTIONARY })
}

/**
 * Inflates at most `maxBytes` (a compressed frame must not expand without bound). Throws
 * FrameError: 4413 when the body inflates past `maxBytes` (a deflate bomb: PROTOCOL.md says
 * frame_too_large, and zlib's RangeError would otherwise read as our own failure, 4500), 4400
 * when it does not inflate at all.
 */
export function decompress(bytes: Uint8Array, maxBytes: number): Uint8Array {
  try {
    return inflateRawSync(bytes, { dictionary: DICTIONARY, maxOutputLength: maxBytes })
  } catch (e) {
    const err = e as NodeJS.ErrnoException
    if (err.code === 'ERR_BUFFER_TOO_LARGE' || err instanceof RangeError) {
      throw new FrameError(LINK_CLOSE_CODES.frame_too_large, `an updates body inflates past ${maxBytes} bytes`)
    }
    throw new FrameError(LINK_CLOSE_CODES.malformed_frame, `an updates body does not inflate: ${err.message}`)
  }
}
