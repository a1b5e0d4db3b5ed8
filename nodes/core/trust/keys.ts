/**
 * This node's signing key pair, made at its first start and kept in the store (so several
 * processes sharing one PostgreSQL store sign as the same unit), and signature checks for any
 * node's key. Ed25519 from node:crypto by default; SM2 with SM3 (国密) when chosen at first start.
 */
import { createHash, createPrivateKey, hash, createPublicKey, generateKeyPairSync, sign as edSign, verify as edVerify, type KeyObject } from 'node:crypto'
import type { NodeKeyRef, SigAlg } from '../../../protocol/index.ts'
import type { Queryable } from '../store/db.ts'
import { sm2KeyPair, sm2Sign, sm2Verify } from './sm2.ts'

export interface NodeKeys extends NodeKeyRef {
  /** Signs `text` (UTF-8); base64url. */
  sign(text: string): string
}

const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex')
const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64url')
const unb64 = (s: string) => Buffer.from(s, 'base64url')

/** Loads this node's key pair, making it on first start with `alg` (a key's algorithm never changes afterwards). */
export async function loadOrCreateKeys(db: Queryable, alg: SigAlg = 'ed25519'): Promise<NodeKeys> {
  const read = async () => Object.fromEntries((await db.query<{ key: string; value: string }>(
    `SELECT key, value FROM node_meta WHERE key IN ('sign_alg', 'sign_private', 'sign_public')`)).map((r) => [r.key, r.value]))
  let m = await read()
  if (!m.sign_private) {
    const made = makeKeyPair(alg)
    // One statement, first writer wins: processes sharing a store agree on one key.
    await db.query(
      `INSERT INTO node_meta (key, value) VALUES ('sign_alg', $1), ('sign_private', $2), ('sign_public', $3) ON CONFLICT (key) DO NOTHING`,
      [alg, made.privateKey, made.publicKey],
    )
    m = await read()
  }
  return keysFrom(m.sign_alg as SigAlg, m.sign_private, m.sign_public)
}

function makeKeyPair(alg: SigAlg): { privateKey: string; publicKey: string } {
  if (alg === 'sm2') {
    const k = sm2KeyPair()
    return { privateKey: b64(k.privateKey), publicKey: b64(k.publicKey) }
  }
  const { privateKey, publicKey } = generateKeyPairSync('ed25519')
  const spki = publicKey.export({ format: 'der', type: 'spki' })
  return { privateKey: b64(privateKey.export({ format: 'der', type: 'pkcs8' })), publicKey: b64(spki.subarray(ED25519_SPKI_PREFIX.length)) }
}

function keysFrom(alg: SigAlg, privateKey: string, publicKey: string): NodeKeys {
  if (alg === 'sm2') {
    const d = unb64(privateKey)
    return { alg, publicKey, sign: (text) => b64(sm2Sign(d, Buffer.from(text, 'utf8'))) }
  }
  const key = createPrivateKey({ key: unb64(privateKey), format: 'der', type: 'pkcs8' })
  return { alg, publicKey, sign: (text) => b64(edSign(null, Buffer.from(text, 'utf8'), key)) }
}

const publicKeys = new Map<string, KeyObject>()

/** The Ed25519 key object of a raw public key (made once a key), or null when it is not one. */
function ed25519Key(publicKey: string): KeyObject | null {
  let k = publicKeys.get(publicKey)
  if (!k) {
    const raw = unb64(publicKey)
    if (raw.length !== 32) return null
    k = createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, raw]), format: 'der', type: 'spki' })
    if (publicKeys.size > 10_000) publicKeys.clear()
    publicKeys.set(publicKey, k)
  }
  return k
}

/** Does `sig` verify for `text` under `key`? Never throws: a malformed key or signature is false. */
export function verifySignature(key: NodeKeyRef, text: string, sig: string): boolean {
  try {
    const msg = Buffer.from(text, 'utf8')
    const s = unb64(sig)
    if (key.alg === 'sm2') return sm2Verify(unb64(key.publicKey), msg, s)
    const k = ed25519Key(key.publicKey)
    return !!k && s.length === 64 && edVerify(null, msg, k, s)
  } catch {
    return false
  }
}

/**
 * `verifySignature` with the Ed25519 work on libuv's thread pool (node:crypto's callback form):
 * the calling thread only hands it over (~10 µs against ~90 µs for the check itself), so a
 * receiver checking a frame's signatures keeps its one thread for the store while the pool
 * verifies them side by side. The same OpenSSL check, the same answer. SM2 is checked here, on
 * this thread. Never rejects: a malformed key or signature is false.
 */
export function verifySignatureOffThread(key: NodeKeyRef, text: string, sig: string): Promise<boolean> {
  if (key.alg !== 'ed25519') return Promise.resolve(verifySignature(key, text, sig))
  try {
    const s = unb64(sig)
    const k = ed25519Key(key.publicKey)
    if (!k || s.length !== 64) return Promise.resolve(false)
    return new Promise((resolve) => edVerify(null, Buffer.from(text, 'utf8'), k, s, (err, ok) => resolve(!err && ok === true)))
  } catch {
    return Promise.resolve(false)
  }
}

/** A short, readable fingerprint of a public key (for logs and the operator). */
export function keyFingerprint(key: NodeKeyRef): string {
  return createHash('sha256').update(`${key.alg}:${key.publicKey}`).digest('hex').slice(0, 16)
}

/** The id of an event: the first 128 bits of SHA-256 over its `eventIdText`. */
export function contentId(text: string): string {
  return hash('sha256', text, 'base64url').slice(0, 22) // UTF-8, as createHash's update(text, 'utf8')
}

/** A key pair held only in memory (tests that play a node, tools): the same signing as a node's. */
export function memoryKeys(alg: SigAlg = 'ed25519'): NodeKeys {
  const made = makeKeyPair(alg)
  return keysFrom(alg, made.privateKey, made.publicKey)
}
