/**
 * The escrow key and its seal. The key is derived from the recovery code with scrypt (salted
 * with the unit's code, so one code does not open another unit's escrow); entries are sealed
 * with AES-256-GCM, a fresh 96-bit nonce each, the document id as associated data (an entry
 * moved to another unit's escrow does not open). Only the key is kept on the laptop; the code
 * is shown once, at first start, for the administrator to keep elsewhere.
 */
import { createCipheriv, createDecipheriv, randomBytes, scryptSync } from 'node:crypto'
import { ESCROW_ENTRY_PREFIX, formatRecoveryCode, normalizeRecoveryCode } from '../../../protocol/index.ts'

/** scrypt cost: ~0.1 s and 32 MiB once per start or restore; makes guessing a code costly too. */
const SCRYPT = { N: 1 << 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 }

export function newRecoveryCode(): string {
  return formatRecoveryCode(randomBytes(15))
}

/** The 32-byte key a recovery code gives for `unit`; throws when the code cannot be one. */
export function escrowKey(code: string, unit: string): Buffer {
  const norm = normalizeRecoveryCode(code)
  if (!norm) throw new Error('a recovery code is 24 letters and digits, as printed at the first start (XXXX-XXXX-XXXX-XXXX-XXXX-XXXX)')
  return scryptSync(norm, `tongban-escrow:${unit}`, 32, SCRYPT)
}

export function seal(key: Buffer, docId: string, plain: Uint8Array): string {
  const nonce = randomBytes(12)
  const c = createCipheriv('aes-256-gcm', key, nonce)
  c.setAAD(Buffer.from(docId))
  const body = Buffer.concat([c.update(plain), c.final()])
  return ESCROW_ENTRY_PREFIX + Buffer.concat([nonce, body, c.getAuthTag()]).toString('base64url')
}

/** The plain text of a sealed entry, or null when this key does not open it (another code, or altered bytes). */
export function open(key: Buffer, docId: string, sealed: string): Uint8Array | null {
  if (!sealed.startsWith(ESCROW_ENTRY_PREFIX)) return null
  const raw = Buffer.from(sealed.slice(ESCROW_ENTRY_PREFIX.length), 'base64url')
  if (raw.length < 12 + 16) return null
  try {
    const d = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12))
    d.setAAD(Buffer.from(docId))
    d.setAuthTag(raw.subarray(raw.length - 16))
    return new Uint8Array(Buffer.concat([d.update(raw.subarray(12, raw.length - 16)), d.final()]))
  } catch {
    return null
  }
}
