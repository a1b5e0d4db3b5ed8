/**
 * The enrollment token a parent prints (`tongban child add`) is `<secret>#<fingerprint>`: the
 * secret the child presents, and the SHA-256 fingerprint (64 hex digits) of the parent's TLS
 * certificate, which the child pins. A token without `#…` (a parent serving plain http on
 * loopback, or an older parent) carries no pin: the child then trusts only a certificate that a
 * CA in its system store vouches for.
 */
import { normalizeFingerprint, servingFingerprint } from '../tls.ts'

export interface EnrollmentToken {
  secret: string
  fingerprint: string | null
}

export function parseEnrollmentToken(token: string): EnrollmentToken {
  const at = token.lastIndexOf('#')
  if (at < 0) return { secret: token, fingerprint: null }
  const fingerprint = normalizeFingerprint(token.slice(at + 1))
  if (!fingerprint) throw new Error('the enrollment token ends in "#…" but that is not a SHA-256 certificate fingerprint; copy the whole token `tongban child add` printed')
  return { secret: token.slice(0, at), fingerprint }
}

/** `secret` with the fingerprint of the certificate `parentDataDir`'s node serves with, if it serves TLS. */
export function pinToken(secret: string, parentDataDir: string): string {
  const fp = servingFingerprint(parentDataDir)
  return fp ? `${secret}#${fp}` : secret
}
