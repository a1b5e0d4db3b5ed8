/**
 * Who signed what, and whom to believe: the signing rules every node and every link share.
 *
 * - Every node holds a signing key pair made at its first start (Ed25519, or SM2 with SM3).
 * - Every application and every case event carries the signature of the node that authored it,
 *   over `signingText(kind, value)`: a domain tag and the canonical JSON of the value without
 *   its `sig`. An event's `id` is derived from its content (see `eventIdText`), so two
 *   different events can never share an id, and nobody can erase an event by reusing its id.
 * - Public keys travel in the unit directory (单位目录): one append-only list of entries, each
 *   vouched for (signed) by the parent that enrolled the unit; the city vouches for itself and
 *   its key is the root every node pins at enrollment. `resolveDirectory` computes, from the
 *   entries and the pinned root, which keys each unit holds.
 *
 * Pure: the caller supplies `verify` (node:crypto at a node); nothing here does I/O.
 */
import { z } from 'zod'
import { InstantSchema } from './instant.ts'
import { canonicalJsonWithout } from './canonical.ts'
import { DivisionCodeSchema, parentCode } from './division.ts'

export const SIG_ALGS = ['ed25519', 'sm2'] as const
export type SigAlg = (typeof SIG_ALGS)[number]
export const SigAlgSchema = z.enum(SIG_ALGS)

/** A signature or a public key as base64url (an Ed25519 signature is 86 characters, an SM2 one too). */
export const SignatureSchema = z.string().regex(/^[A-Za-z0-9_-]{40,200}$/, 'a signature is 40–200 base64url characters')
export const PublicKeySchema = z.string().regex(/^[A-Za-z0-9_-]{40,200}$/, 'a public key is 40–200 base64url characters')

/** A public key with its algorithm: what a directory entry and an enrollment carry. */
export const NodeKeySchema = z.object({ alg: SigAlgSchema, publicKey: PublicKeySchema })
export type NodeKeyRef = z.infer<typeof NodeKeySchema>

/** What a signature covers: the kind of value is part of the text, so a signature never transfers between kinds. */
export type SignedKind = 'application' | 'event' | 'directory' | 'link-child' | 'link-parent' | 'notice' | 'notice-reply'

/** The exact text a signature is made over. */
export function signingText(kind: SignedKind, value: object): string {
  return `tongban/${kind}/v1\n${canonicalJsonWithout(value, ['sig'])}`
}

/** The text an event's id is the hash of: its content without id and signature. */
export function eventIdText(event: object): string {
  return `tongban/event-id/v1\n${canonicalJsonWithout(event, ['id', 'sig'])}`
}

/** Event ids are the first 128 bits of a SHA-256, base64url (22 characters). */
export const EventIdSchema = z.string().regex(/^[A-Za-z0-9_-]{22}$/, 'an event id is 22 base64url characters (a content hash)')

/** One entry of the unit directory: unit `code` holds key `publicKey`, vouched for by its parent. */
export const DirectoryEntrySchema = z.object({
  code: DivisionCodeSchema,
  name: z.string().trim().min(1).max(100),
  alg: SigAlgSchema,
  publicKey: PublicKeySchema,
  /** `revoked`: this key no longer speaks for the unit (a lost laptop, a replaced key). */
  status: z.enum(['active', 'revoked']),
  /** Later entries for the same key win (a revocation follows the entry it revokes). */
  serial: z.number().int().min(1).max(2 ** 31),
  at: InstantSchema,
  /** The parent that enrolled the unit (the city vouches for itself). */
  vouchedBy: DivisionCodeSchema,
  sig: SignatureSchema,
}).strict().refine((e) => e.vouchedBy === (parentCode(e.code) ?? e.code), { message: 'a unit is vouched for by its parent (the city by itself)' })
export type DirectoryEntry = z.infer<typeof DirectoryEntrySchema>

export type VerifyFn = (key: NodeKeyRef, text: string, sig: string) => boolean

export interface UnitKeys {
  code: string
  name: string
  /** Every key ever validly vouched for this unit, with its latest status. */
  keys: { alg: SigAlg; publicKey: string; active: boolean }[]
}

/**
 * The directory as it stands: for every unit whose chain of vouchers reaches the pinned root,
 * its keys. An entry whose voucher is unknown, or whose signature does not verify under one of
 * the voucher's active keys, is left out (and listed in `ignored`), never trusted.
 */
export function resolveDirectory(entries: readonly DirectoryEntry[], root: { code: string } & NodeKeyRef, verify: VerifyFn): { units: Map<string, UnitKeys>; ignored: { entry: DirectoryEntry; reason: string }[] } {
  const units = new Map<string, UnitKeys>()
  const ignored: { entry: DirectoryEntry; reason: string }[] = []
  // The pinned root is believed before any entry (its own entry only adds its name).
  units.set(root.code, { code: root.code, name: root.code, keys: [{ alg: root.alg, publicKey: root.publicKey, active: true }] })
  // Parents before children, then by serial: a voucher's keys are known before what it vouches.
  const ordered = [...entries].sort((a, b) => depthOf(a.code) - depthOf(b.code) || a.serial - b.serial)
  const latest = new Map<string, number>() // code|publicKey → serial applied
  for (const e of ordered) {
    let voucherKeys: NodeKeyRef[]
    if (e.code === root.code) {
      // The root vouches for itself, and only with the key pinned at enrollment.
      if (e.vouchedBy !== root.code) { ignored.push({ entry: e, reason: 'the root is vouched for by itself' }); continue }
      voucherKeys = [{ alg: root.alg, publicKey: root.publicKey }]
    } else {
      const v = units.get(e.vouchedBy)
      if (!v) { ignored.push({ entry: e, reason: `its voucher ${e.vouchedBy} is not in the directory` }); continue }
      voucherKeys = v.keys.filter((k) => k.active)
    }
    const text = signingText('directory', e)
    if (!voucherKeys.some((k) => verify(k, text, e.sig))) { ignored.push({ entry: e, reason: `not signed by ${e.vouchedBy}` }); continue }
    if (e.code === root.code && (e.alg !== root.alg || e.publicKey !== root.publicKey) && e.status === 'active') {
      ignored.push({ entry: e, reason: 'the root key is the one pinned at enrollment' })
      continue
    }
    const slot = `${e.code}|${e.publicKey}`
    if ((latest.get(slot) ?? 0) > e.serial) continue
    latest.set(slot, e.serial)
    const u = units.get(e.code) ?? { code: e.code, name: e.name, keys: [] }
    u.name = e.name
    const k = u.keys.find((x) => x.publicKey === e.publicKey && x.alg === e.alg)
    if (k) k.active = e.status === 'active'
    else u.keys.push({ alg: e.alg, publicKey: e.publicKey, active: e.status === 'active' })
    units.set(e.code, u)
  }
  return { units, ignored }
}

const depthOf = (code: string): number => (code.endsWith('00000000') ? 0 : code.endsWith('000000') ? 1 : code.endsWith('000') ? 2 : 3)

/**
 * Link authentication (challenge–response with the node keys; nothing replayable is stored or
 * sent). The child asks for a challenge with a nonce of its own; the parent answers with its
 * nonce and its signature over both (so the child knows it reached its real parent); the child
 * opens the link with its signature over both. Each nonce is good for one use within a minute.
 */
export const LinkChallengeRequestSchema = z.object({ code: DivisionCodeSchema, nonce: z.string().regex(/^[A-Za-z0-9_-]{22,64}$/) }).strict()
export const LinkChallengeSchema = z.object({ nonce: z.string().regex(/^[A-Za-z0-9_-]{22,64}$/), sig: SignatureSchema }).strict()
export function linkProofText(side: 'link-child' | 'link-parent', parent: string, child: string, parentNonce: string, childNonce: string): string {
  return signingText(side, { parent, child, parentNonce, childNonce })
}

/** `POST /link/enroll`: the child's one-time token exchanged once for its public key. */
export const EnrollRequestSchema = z.object({
  code: DivisionCodeSchema,
  name: z.string().trim().min(1).max(100),
  token: z.string().min(10).max(200),
  alg: SigAlgSchema,
  publicKey: PublicKeySchema,
}).strict()
export type EnrollRequest = z.infer<typeof EnrollRequestSchema>

/** The parent's answer: its own key and the root's (both pinned by the child), and the chain of entries up to the root. */
export const EnrollResponseSchema = z.object({
  parent: z.object({ code: DivisionCodeSchema }).extend(NodeKeySchema.shape),
  /** Null while the parent is not yet linked to the root itself. */
  root: z.object({ code: DivisionCodeSchema }).extend(NodeKeySchema.shape).nullable(),
  chain: z.array(DirectoryEntrySchema).max(16),
})
export type EnrollResponse = z.infer<typeof EnrollResponseSchema>
