/**
 * The link's proof of key in one trip (issue 11, goal 1). The challenge–response of trust.ts
 * costs a request of its own before the WebSocket upgrade — a TLS handshake and an HTTP round,
 * 1.2 s on a 600 ms line. Instead the child signs, inside the upgrade request itself, its
 * parent's code, its own, the time and a fresh nonce; the parent takes a proof once (the nonce
 * is remembered until the proof is too old to be taken anyway) and only within
 * LINK_PROOF_WINDOW_MS of its own clock, or after it started (what it remembered died with
 * the process). It answers in the 101 with its own signature over the same values, so the child
 * knows it reached its real parent before it sends a frame. A refusal for the time carries the
 * parent's clock (`x-tongban-time`), so a child whose clock is off dials again at once, corrected.
 *
 * The same signed kinds as the challenge (`link-child`, `link-parent`) over other fields
 * (`time` instead of `parentNonce`, and `via`): a proof of one way never checks as the other.
 */
import { z } from 'zod'
import { DivisionCodeSchema } from './division.ts'
import { SignatureSchema, signingText } from './trust.ts'

/** A proof is taken within this much of the parent's clock (either way): the line's delay plus some drift. */
export const LINK_PROOF_WINDOW_MS = 120_000

/** The headers a child's upgrade carries (lower case, as Node gives them). */
export const LINK_PROOF_HEADERS = {
  code: 'x-tongban-code',
  time: 'x-tongban-time',
  nonce: 'x-tongban-child-nonce',
  proof: 'x-tongban-proof',
  /** In the 101: the parent's signature over the same values. */
  parentProof: 'x-tongban-parent-proof',
} as const

export const LinkUpgradeProofSchema = z.object({
  code: DivisionCodeSchema,
  time: z.string().regex(/^\d{1,15}$/, 'x-tongban-time is the time in ms since 1970').transform(Number),
  nonce: z.string().regex(/^[A-Za-z0-9_-]{22,64}$/, 'x-tongban-child-nonce is 22–64 base64url characters'),
  proof: SignatureSchema,
})
export type LinkUpgradeProof = z.infer<typeof LinkUpgradeProofSchema>

/** The text each side signs: `link-child` in the request, `link-parent` in the 101. */
export function linkUpgradeText(side: 'link-child' | 'link-parent', parent: string, child: string, time: number, nonce: string): string {
  return signingText(side, { via: 'upgrade', parent, child, time, childNonce: nonce })
}
