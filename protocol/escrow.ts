/**
 * Escrow (托管): a village's own cases — those whose path is the village alone ("small matters
 * don't leave the village") — exist only on its laptop. So that a stolen or broken laptop does
 * not take them along, the village sends its parent a copy sealed with a key only the village's
 * administrator holds (the recovery code printed at its first start). The parent stores the
 * sealed entries and can read nothing of them; `tongban restore` on a new laptop fetches them
 * back and opens them with the code.
 *
 * One document per unit, `escrow:<unit code>`: an append-only array of sealed entries, each the
 * case updates of one pass of the village's escrow writer (so it grows with what changed, not
 * with what the village holds). It goes up exactly one level (to the unit's parent) and back
 * down to that unit only; only that unit may write it. Pure: the sealing is in nodes/core/escrow.
 */
import { z } from 'zod'
import { parentCode } from './division.ts'

/** The one array of a escrow document. */
export const ESCROW_ARRAY = 'entries'
/** Sealed entries are `e1.` + base64url(nonce ‖ ciphertext ‖ tag): the version names the cipher (AES-256-GCM). */
export const ESCROW_ENTRY_PREFIX = 'e1.'
/**
 * The largest sealed entry (characters). The writer keeps each entry's plain text under
 * ESCROW_PLAIN_BYTES, which seals to well under this; anything larger is refused at the parent.
 */
export const ESCROW_MAX_ENTRY_CHARS = 96 * 1024
/** What the writer puts in one entry before sealing (a case update larger than this goes alone). */
export const ESCROW_PLAIN_BYTES = 48 * 1024
/**
 * The most a parent stores of one child's escrow. A case is a few KB sealed; 64 MiB is years of a
 * village's own cases. Past it the parent refuses more (and says so in its log): a stolen key
 * cannot fill the township's disk through the escrow.
 */
export const ESCROW_MAX_DOC_BYTES = 64 * 1024 * 1024

/** One sealed entry as the link carries it. */
export const EscrowEntrySchema = z.string()
  .max(ESCROW_MAX_ENTRY_CHARS, `a sealed escrow entry is at most ${ESCROW_MAX_ENTRY_CHARS} characters`)
  .regex(/^e1\.[A-Za-z0-9_-]{40,}$/, 'a sealed escrow entry is e1.<base64url>')

export const escrowDocId = (unit: string): string => `escrow:${unit}`

/** The unit whose escrow `docId` is, or null when it is none. */
export function escrowUnitOf(docId: string): string | null {
  const m = /^escrow:(\d{12})$/.exec(docId)
  return m ? m[1] : null
}

/** Escrow goes up one level only: to the parent of the unit it belongs to. */
export const escrowSendsUp = (parent: string, unit: string): boolean => parentCode(unit) === parent

/** …and down only to the unit itself (a restored laptop fetching it back). */
export const escrowSendsDown = (child: string, unit: string): boolean => child === unit

/** May `child` write the escrow of `unit` to its parent `parent`? Null, or why not. */
export function escrowChildMayWrite(parent: string, child: string, unit: string): string | null {
  if (unit !== child) return `${child} may write only its own escrow, not ${unit}'s`
  return parentCode(unit) === parent ? null : `the escrow of ${unit} is kept by its parent, not ${parent}`
}

/** May a parent write the escrow of `unit` down to `child`? */
export const escrowParentMayWrite = (child: string, unit: string): string | null =>
  child === unit ? null : `the escrow of ${unit} goes back to ${unit} only, not ${child}`

// ---------------------------------------------------------------------------------------------
// The recovery code

/** Crockford's base32 alphabet: no I, L, O, U; read aloud and typed without confusion. */
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ'
/** 24 characters of base32 = 120 bits, printed in six groups of four. */
export const RECOVERY_CODE_CHARS = 24

/** Formats 15 random bytes as a recovery code, `XXXX-XXXX-XXXX-XXXX-XXXX-XXXX`. */
export function formatRecoveryCode(bytes: Uint8Array): string {
  if (bytes.length !== 15) throw new Error('a recovery code is made of 15 random bytes')
  let bits = 0
  let value = 0
  let out = ''
  for (const b of bytes) {
    value = (value << 8) | b
    bits += 8
    while (bits >= 5) {
      out += ALPHABET[(value >>> (bits - 5)) & 31]
      bits -= 5
    }
    value &= (1 << bits) - 1
  }
  return out.match(/.{4}/g)!.join('-')
}

/**
 * The code as typed, normalised (case, spaces and dashes ignored; O read as 0, I and L as 1),
 * or null when it cannot be a recovery code.
 */
export function normalizeRecoveryCode(typed: string): string | null {
  const s = typed.toUpperCase().replace(/[\s-]/g, '').replace(/O/g, '0').replace(/[IL]/g, '1')
  if (s.length !== RECOVERY_CODE_CHARS || [...s].some((c) => !ALPHABET.includes(c))) return null
  return s.match(/.{4}/g)!.join('-')
}
