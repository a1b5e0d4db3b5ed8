/**
 * Enrollment: a parent accepts a link only from a child it has enrolled, and knows the child
 * by its public key, not by a secret it could leak. `tongban child add` writes the child's
 * code and the SHA-256 of a fresh one-time token into `<data>/enrollments.json` (a file, so it
 * works while the parent runs and holds its store's lock); the token is shown once. The child
 * exchanges it, once, for the registration of its public key (`POST /link/enroll`); from then
 * on it authenticates by challenge–response with its key (link-auth.ts), so nothing replayable
 * is stored or sent. Re-enrolling a code (a replaced laptop) or `tongban child revoke` retires
 * the key: the running parent cuts its link at once and publishes the revocation.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parentCode, type EnrollRequest, type NodeKeyRef } from '../../../protocol/index.ts'

export interface Enrollment {
  code: string
  /** The one-time token's hash, kept after redemption so a retry by the same key gets the same answer. */
  tokenHash: string | null
  /** The key that redeemed the token (a second client with another key is refused). */
  key: NodeKeyRef | null
  /** The name the child gave when it enrolled. */
  name: string | null
  /** Keys this code held before (a replaced laptop, a revocation): never accepted again. */
  retired: NodeKeyRef[]
  revoked: boolean
  createdAt: string
}

export const enrollmentsFile = (dataDir: string) => join(dataDir, 'enrollments.json')
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex')

export function readEnrollments(dataDir: string): Enrollment[] {
  if (!existsSync(enrollmentsFile(dataDir))) return []
  const list = JSON.parse(readFileSync(enrollmentsFile(dataDir), 'utf8')) as Partial<Enrollment>[]
  return list.map((e) => ({ code: e.code!, tokenHash: e.tokenHash ?? null, key: e.key ?? null, name: e.name ?? null, retired: e.retired ?? [], revoked: e.revoked ?? false, createdAt: e.createdAt ?? '' }))
}

function write(dataDir: string, list: Enrollment[]): void {
  // Written to a temp file of this process's own, synced, renamed, and the directory synced:
  // the token printed is the one a power cut leaves behind.
  const tmp = `${enrollmentsFile(dataDir)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`
  writeFileSync(tmp, JSON.stringify(list, null, 2), { mode: 0o600 })
  syncPath(tmp)
  renameSync(tmp, enrollmentsFile(dataDir))
  syncPath(dataDir)
}

/** A lock file older than this was left by a process that died holding it. */
const STALE_LOCK_MS = 10_000

/**
 * Read–modify–write under a lock file: `tongban child add` (another process) and the running
 * node (redeeming a token at a child's first link) both change the file, and neither may lose
 * the other's change. The wait is bounded (a few seconds); a stale lock is taken over.
 */
function update(dataDir: string, code: string, fn: (e: Enrollment | undefined) => Enrollment): Enrollment {
  const lock = `${enrollmentsFile(dataDir)}.lock`
  const until = Date.now() + 5_000
  for (;;) {
    try {
      closeSync(openSync(lock, 'wx'))
      break
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e
      const age = Date.now() - (statMtime(lock) ?? Date.now())
      if (age > STALE_LOCK_MS) rmSync(lock, { force: true })
      else if (Date.now() > until) throw new Error(`enrollments.json is locked by another process (${lock}); try again`)
      else Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20) // a short sleep: this is a CLI-rate path
    }
  }
  try {
    const list = readEnrollments(dataDir)
    const i = list.findIndex((e) => e.code === code)
    const next = fn(list[i])
    if (i >= 0) list[i] = next
    else list.push(next)
    write(dataDir, list)
    return next
  } finally {
    rmSync(lock, { force: true })
  }
}

function statMtime(path: string): number | null {
  try {
    return statSync(path).mtimeMs
  } catch {
    return null
  }
}

/**
 * Enrolls `child` below `self`; returns the one-time token. A key the child held before is
 * retired (the replaced laptop can no longer link). Throws when the child is not directly below.
 */
export function enrollChild(dataDir: string, self: string, child: string): string {
  if (parentCode(child) !== self) throw new Error(`${child} is not directly below ${self}: a node enrolls only its own children`)
  const token = `${child}.${randomBytes(24).toString('base64url')}`
  update(dataDir, child, (old) => ({
    code: child, tokenHash: sha256(token), key: null, name: old?.name ?? null,
    retired: [...(old?.retired ?? []), ...(old?.key ? [old.key] : [])], revoked: false, createdAt: new Date().toISOString(),
  }))
  return token
}

/** `tongban child revoke`: the child's key is retired and its token void; the running parent cuts the link. */
export function revokeChild(dataDir: string, self: string, child: string): Enrollment {
  const old = readEnrollments(dataDir).find((e) => e.code === child)
  if (!old || parentCode(child) !== self) throw new Error(`${child} is not enrolled below ${self}`)
  return update(dataDir, child, () => ({ ...old, tokenHash: null, key: null, retired: [...old.retired, ...(old.key ? [old.key] : [])], revoked: true }))
}

/**
 * `tongban child rename`: the unit keeps its code and key, and gets a new name (a township merged
 * or renamed by the civil affairs office); the running parent publishes it in the directory.
 */
export function renameChild(dataDir: string, self: string, child: string, name: string): Enrollment {
  const old = readEnrollments(dataDir).find((e) => e.code === child)
  if (!old || parentCode(child) !== self) throw new Error(`${child} is not enrolled below ${self}`)
  const clean = name.trim()
  if (!clean || clean.length > 100 || /[\u0000-\u001f\u007f]/.test(clean)) throw new Error('a unit name is 1–100 characters, without control characters')
  return update(dataDir, child, () => ({ ...old, name: clean }))
}

/**
 * Redeems a one-time token for the child's public key. The same key may redeem the same token
 * again (the answer was lost on a poor line); any other key, a used or wrong token, a revoked
 * child or a retired key is refused.
 */
export function redeemToken(dataDir: string, self: string, req: EnrollRequest): { ok: true } | { ok: false; reason: string } {
  if (parentCode(req.code) !== self) return { ok: false, reason: `${req.code} is not a child of ${self}` }
  const e = readEnrollments(dataDir).find((x) => x.code === req.code)
  const secret = req.token
  const matches = !!e?.tokenHash && timingSafeEqual(Buffer.from(e.tokenHash, 'hex'), Buffer.from(sha256(secret), 'hex'))
  if (!e || e.revoked || !matches) return { ok: false, reason: `${req.code} is not enrolled here, or its token is wrong or revoked: run \`tongban child add --code ${req.code}\` on this node for a new one` }
  if (e.retired.some((k) => k.publicKey === req.publicKey)) return { ok: false, reason: 'this key was retired: the unit was re-enrolled or revoked' }
  if (e.key && e.key.publicKey !== req.publicKey) return { ok: false, reason: 'this enrollment token was already used by another key: a token enrolls one node once' }
  if (!e.key) update(dataDir, req.code, (cur) => ({ ...cur!, key: { alg: req.alg, publicKey: req.publicKey }, name: req.name }))
  return { ok: true }
}

/** The key an enrolled child links with, or null (not enrolled, not yet redeemed, revoked). */
export function childKey(dataDir: string, self: string, code: string): NodeKeyRef | null {
  if (parentCode(code) !== self) return null
  const e = readEnrollments(dataDir).find((x) => x.code === code)
  return e && !e.revoked ? e.key : null
}

export function enrolledChildren(dataDir: string): string[] {
  return readEnrollments(dataDir).filter((e) => !e.revoked).map((e) => e.code)
}

function syncPath(path: string): void {
  const fd = openSync(path, 'r')
  try {
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}
