/**
 * SM2 digital signatures (GB/T 32918.2-2016, GM/T 0003.2) with the SM3 hash (GB/T 32905-2016),
 * the 国密 option for a node's signing key. Pure TypeScript over BigInt: no native addon, no
 * dependency. SM3 comes from Node's OpenSSL (`createHash('sm3')`); the tests check it against
 * the GB/T 32905 vectors, and this module against the GB/T 32918 signature examples.
 *
 * Wire formats: private key = scalar d, 32 bytes big-endian; public key = 04 || x || y (65 bytes,
 * uncompressed); signature = r || s (64 bytes, big-endian), not DER — the tree signs canonical
 * bytes and wants fixed-size fields.
 *
 * Timing. BigInt arithmetic in V8 is not constant-time: the cost of a multiplication or a
 * reduction depends on the operands' magnitudes, and allocation adds noise. The code keeps a
 * constant *structure* where it touches secrets (the fixed-base multiplication by d or k does
 * one table scan and one addition per 4-bit digit whatever the digit; inverses mod p and mod n
 * are Fermat exponentiations with the public exponent p−2 / n−2, not a data-dependent Euclid),
 * which removes the coarse branch-on-secret leaks, but a local attacker able to time many
 * signatures with sub-microsecond precision could still learn something. For our threat model
 * (SECURITY.md: a village laptop can be stolen; its peers are remote, over a WAN link whose
 * jitter is milliseconds, and signatures are made only for events the node itself authors, at
 * human pace) that is accepted: a remote peer cannot collect the fine-grained timings such an
 * attack needs, and anyone with code execution on the laptop can read the key file anyway.
 * Nonces k come from the OS CSPRNG, never from the message alone.
 */
import { createHash, randomBytes } from 'node:crypto'

export interface Sm2Curve { p: bigint; a: bigint; b: bigint; n: bigint; gx: bigint; gy: bigint }

/** The recommended curve of GB/T 32918.5-2017 (sm2p256v1), cofactor 1. */
export const SM2_CURVE: Sm2Curve = Object.freeze({
  p: 0xfffffffeffffffffffffffffffffffffffffffff00000000ffffffffffffffffn,
  a: 0xfffffffeffffffffffffffffffffffffffffffff00000000fffffffffffffffcn,
  b: 0x28e9fa9e9d9f5e344d5a9e4bcf6509a7f39789f515ab8f92ddbcbd414d940e93n,
  n: 0xfffffffeffffffffffffffffffffffff7203df6b21c6052b53bbf40939d54123n,
  gx: 0x32c4ae2c1f1981195f9904466a39c9948fe30bbff2660be1715a4589334c74c7n,
  gy: 0xbc3736a2f4f6779c59bdcee36b692153d0a9877cc62a474002df32e52139f0a0n,
})

/** GM/T 0009-2012 §10: the user id when none is agreed. */
const DEFAULT_ID = new TextEncoder().encode('1234567812345678')

// ---------------------------------------------------------------------------------------------
// Curve context: field helpers and the fixed-base table for G, built once per curve.

/** Jacobian point (X/Z², Y/Z³); Z = 0 is the point at infinity. */
interface Jac { x: bigint; y: bigint; z: bigint }
/** Affine point (only finite points are ever stored affine). */
interface Aff { x: bigint; y: bigint }

const WINDOW = 4
const DIGITS = 1 << WINDOW // 16: digit values 0..15

interface Ctx {
  c: Sm2Curve
  /** Bytes of a field element / scalar (32 for the 256-bit curves). */
  len: number
  /** Hex digits of a scalar: its base-16 digits, most significant first. */
  nDigits: number
  aIsMinus3: boolean
  /** comb[i][j] = (j+1)·16^i·G, affine: kG is one mixed addition per base-16 digit of k, no doublings. */
  comb: Aff[][] | null
}

const INF: Jac = { x: 1n, y: 1n, z: 0n }

const ctxs = new Map<string, Ctx>()

function ctxOf(c: Sm2Curve): Ctx {
  const key = `${c.p.toString(16)}:${c.a.toString(16)}:${c.b.toString(16)}:${c.n.toString(16)}:${c.gx.toString(16)}:${c.gy.toString(16)}`
  let ctx = ctxs.get(key)
  if (ctx) return ctx
  if (c.p < 5n || c.n < 3n || c.gx < 0n || c.gy < 0n || c.gx >= c.p || c.gy >= c.p || c.a < 0n || c.a >= c.p || c.b < 0n || c.b >= c.p) throw new Error('sm2: bad curve parameters')
  if (!onCurve(c, c.gx, c.gy)) throw new Error('sm2: the base point is not on the curve')
  const len = Math.ceil(c.p.toString(16).length / 2)
  if (Math.ceil(c.n.toString(16).length / 2) > len) throw new Error('sm2: the order is longer than the field')
  ctx = { c, len, nDigits: c.n.toString(16).length, aIsMinus3: c.a === c.p - 3n, comb: null }
  // A handful of curves at most (the recommended one, a test curve): no eviction needed, but bound it.
  if (ctxs.size >= 8) ctxs.clear()
  ctxs.set(key, ctx)
  return ctx
}

const mod = (x: bigint, m: bigint): bigint => {
  const r = x % m
  return r < 0n ? r + m : r
}

/** x^e mod m by square-and-multiply over the bits of a public exponent (structure independent of x). */
function powMod(x: bigint, e: bigint, m: bigint): bigint {
  let r = 1n
  let b = mod(x, m)
  const bits = e.toString(2)
  for (let i = 0; i < bits.length; i++) {
    r = (r * r) % m
    if (bits[i] === '1') r = (r * b) % m
  }
  return r
}

/** Inverse modulo a prime by Fermat's little theorem: no branch on the value (see the header). */
const invPrime = (x: bigint, m: bigint): bigint => powMod(x, m - 2n, m)

function onCurve(c: Sm2Curve, x: bigint, y: bigint): boolean {
  return mod(y * y - (x * x * x + c.a * x + c.b), c.p) === 0n
}

function dbl(ctx: Ctx, P: Jac): Jac {
  const { p, a } = ctx.c
  if (P.z === 0n || P.y === 0n) return INF
  const yy = (P.y * P.y) % p
  const s = (4n * P.x * yy) % p
  const zz = (P.z * P.z) % p
  // M = 3X² + aZ⁴; for a = −3 (the recommended curve) that is 3(X − Z²)(X + Z²).
  const m = ctx.aIsMinus3 ? (3n * (P.x - zz) * (P.x + zz)) % p : (3n * P.x * P.x + a * ((zz * zz) % p)) % p
  const x3 = mod(m * m - 2n * s, p)
  const y3 = mod(m * (s - x3) - 8n * yy * yy, p)
  const z3 = (2n * P.y * P.z) % p
  return { x: x3, y: y3, z: z3 }
}

/** P + Q with Q affine (mixed addition). */
function addAff(ctx: Ctx, P: Jac, Q: Aff): Jac {
  const { p } = ctx.c
  if (P.z === 0n) return { x: Q.x, y: Q.y, z: 1n }
  const z1z1 = (P.z * P.z) % p
  const u2 = (Q.x * z1z1) % p
  const s2 = (Q.y * P.z * z1z1) % p
  const h = mod(u2 - P.x, p)
  const r = mod(s2 - P.y, p)
  if (h === 0n) return r === 0n ? dbl(ctx, P) : INF
  const hh = (h * h) % p
  const hhh = (h * hh) % p
  const v = (P.x * hh) % p
  const x3 = mod(r * r - hhh - 2n * v, p)
  const y3 = mod(r * (v - x3) - P.y * hhh, p)
  return { x: x3, y: y3, z: (P.z * h) % p }
}

/** P + Q, both Jacobian. */
function add(ctx: Ctx, P: Jac, Q: Jac): Jac {
  const { p } = ctx.c
  if (P.z === 0n) return Q
  if (Q.z === 0n) return P
  const z1z1 = (P.z * P.z) % p
  const z2z2 = (Q.z * Q.z) % p
  const u1 = (P.x * z2z2) % p
  const u2 = (Q.x * z1z1) % p
  const s1 = (P.y * Q.z * z2z2) % p
  const s2 = (Q.y * P.z * z1z1) % p
  const h = mod(u2 - u1, p)
  const r = mod(s2 - s1, p)
  if (h === 0n) return r === 0n ? dbl(ctx, P) : INF
  const hh = (h * h) % p
  const hhh = (h * hh) % p
  const v = (u1 * hh) % p
  const x3 = mod(r * r - hhh - 2n * v, p)
  const y3 = mod(r * (v - x3) - s1 * hhh, p)
  return { x: x3, y: y3, z: (((P.z * Q.z) % p) * h) % p }
}

/** Affine form of many finite points with one inversion (Montgomery's trick); public data only. */
function toAffineAll(ctx: Ctx, pts: Jac[]): Aff[] {
  const { p } = ctx.c
  const prefix: bigint[] = new Array(pts.length)
  let acc = 1n
  for (let i = 0; i < pts.length; i++) {
    prefix[i] = acc
    acc = (acc * pts[i].z) % p
  }
  let inv = invPrime(acc, p)
  const out: Aff[] = new Array(pts.length)
  for (let i = pts.length - 1; i >= 0; i--) {
    const zi = (inv * prefix[i]) % p
    inv = (inv * pts[i].z) % p
    const zi2 = (zi * zi) % p
    out[i] = { x: (pts[i].x * zi2) % p, y: (pts[i].y * zi2 * zi) % p }
  }
  return out
}

function toAffine(ctx: Ctx, P: Jac): Aff | null {
  const { p } = ctx.c
  if (P.z === 0n) return null
  const zi = invPrime(P.z, p)
  const zi2 = (zi * zi) % p
  return { x: (P.x * zi2) % p, y: (P.y * zi2 * zi) % p }
}

function combOf(ctx: Ctx): Aff[][] {
  if (ctx.comb) return ctx.comb
  const flat: Jac[] = []
  let base: Jac = { x: ctx.c.gx, y: ctx.c.gy, z: 1n }
  for (let i = 0; i < ctx.nDigits; i++) {
    let e = base
    for (let j = 1; j < DIGITS; j++) {
      flat.push(e)
      e = add(ctx, e, base)
    }
    base = e // 16·base
  }
  const aff = toAffineAll(ctx, flat)
  const comb: Aff[][] = []
  for (let i = 0; i < ctx.nDigits; i++) comb.push(aff.slice(i * (DIGITS - 1), (i + 1) * (DIGITS - 1)))
  ctx.comb = comb
  return comb
}

/** Base-16 digits of k (0 ≤ k < 16^nDigits), least significant first. */
function digits(ctx: Ctx, k: bigint): number[] {
  const hex = k.toString(16).padStart(ctx.nDigits, '0')
  const out = new Array<number>(ctx.nDigits)
  for (let i = 0; i < ctx.nDigits; i++) out[i] = parseInt(hex[ctx.nDigits - 1 - i], 16)
  return out
}

/**
 * k·G for a secret k: per digit, scan the whole table row (the selected entry is not an
 * address computed from the digit) and do exactly one addition — into a throw-away accumulator
 * when the digit is 0. See the header on what this does and does not buy with BigInt.
 */
function mulG(ctx: Ctx, k: bigint): Jac {
  const comb = combOf(ctx)
  const ds = digits(ctx, k)
  let acc: Jac = INF
  let dummy: Jac = INF
  for (let i = 0; i < ds.length; i++) {
    const d = ds[i]
    const row = comb[i]
    let sel = row[0]
    for (let j = 1; j < row.length; j++) sel = j === d - 1 ? row[j] : sel
    if (d !== 0) acc = addAff(ctx, acc, sel)
    else dummy = addAff(ctx, dummy, sel)
  }
  void dummy
  return acc
}

/** k·P for a public point and public scalar (verification): fixed 4-bit window. */
function mulVar(ctx: Ctx, P: Aff, k: bigint): Jac {
  const pts: Jac[] = [{ x: P.x, y: P.y, z: 1n }]
  for (let j = 1; j < DIGITS - 1; j++) pts.push(add(ctx, pts[j - 1], pts[0]))
  // If some multiple is infinity, P has small order: impossible for a valid point when n is prime
  // and larger than 15, but do not divide by zero on a bad curve.
  if (pts.some((q) => q.z === 0n)) return mulSlow(ctx, P, k)
  const table = toAffineAll(ctx, pts)
  const ds = digits(ctx, k)
  let acc: Jac = INF
  for (let i = ds.length - 1; i >= 0; i--) {
    for (let w = 0; w < WINDOW; w++) acc = dbl(ctx, acc)
    if (ds[i] !== 0) acc = addAff(ctx, acc, table[ds[i] - 1])
  }
  return acc
}

function mulSlow(ctx: Ctx, P: Aff, k: bigint): Jac {
  let acc: Jac = INF
  const bits = k.toString(2)
  for (let i = 0; i < bits.length; i++) {
    acc = dbl(ctx, acc)
    if (bits[i] === '1') acc = addAff(ctx, acc, P)
  }
  return acc
}

// ---------------------------------------------------------------------------------------------
// Encoding

function toBig(b: Uint8Array): bigint {
  return b.length === 0 ? 0n : BigInt('0x' + Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex'))
}

function toBytes(x: bigint, len: number): Uint8Array {
  return new Uint8Array(Buffer.from(x.toString(16).padStart(len * 2, '0'), 'hex'))
}

function sm3(...parts: Uint8Array[]): Uint8Array {
  const h = createHash('sm3') // throws if this Node's OpenSSL was built without SM3
  for (const p of parts) h.update(p)
  return new Uint8Array(h.digest())
}

/** Z_A = SM3(ENTL_A || ID_A || a || b || xG || yG || xA || yA), ENTL_A = bit length of ID_A (16 bits). */
function za(ctx: Ctx, id: Uint8Array, pub: Aff): Uint8Array {
  const bits = id.length * 8
  if (bits > 0xffff) throw new RangeError('sm2: the user id is longer than 8191 bytes')
  const { c, len } = ctx
  return sm3(new Uint8Array([bits >> 8, bits & 0xff]), id, toBytes(c.a, len), toBytes(c.b, len), toBytes(c.gx, len), toBytes(c.gy, len), toBytes(pub.x, len), toBytes(pub.y, len))
}

/** e = SM3(Z_A || M) as an integer. */
function digest(ctx: Ctx, id: Uint8Array, pub: Aff, message: Uint8Array): bigint {
  return toBig(sm3(za(ctx, id, pub), message))
}

function privateScalar(ctx: Ctx, privateKey: Uint8Array): bigint {
  if (!(privateKey instanceof Uint8Array) || privateKey.length !== ctx.len) throw new RangeError(`sm2: a private key is ${ctx.len} bytes`)
  const d = toBig(privateKey)
  // d ≤ n − 2, so that 1 + d is invertible mod n (GB/T 32918.1 §6.1).
  if (d < 1n || d > ctx.c.n - 2n) throw new RangeError('sm2: private key out of range [1, n-2]')
  return d
}

/** Uniform enough in [lo, hi]: 64 spare random bits make the modulo bias below 2^-64. */
function randomScalar(ctx: Ctx, lo: bigint, hi: bigint): bigint {
  return lo + (toBig(randomBytes(ctx.len + 8)) % (hi - lo + 1n))
}

/** Public key bytes → a finite point on the curve, or null (wrong length, prefix, range, not on curve). */
function decodePoint(ctx: Ctx, pub: Uint8Array): Aff | null {
  if (!(pub instanceof Uint8Array) || pub.length !== 1 + 2 * ctx.len || pub[0] !== 0x04) return null
  const x = toBig(pub.subarray(1, 1 + ctx.len))
  const y = toBig(pub.subarray(1 + ctx.len))
  if (x >= ctx.c.p || y >= ctx.c.p) return null
  if (!onCurve(ctx.c, x, y)) return null
  // Cofactor 1 (both curves of the standard): on the curve means in the group of order n.
  return { x, y }
}

function encodePoint(ctx: Ctx, P: Aff): Uint8Array {
  const out = new Uint8Array(1 + 2 * ctx.len)
  out[0] = 0x04
  out.set(toBytes(P.x, ctx.len), 1)
  out.set(toBytes(P.y, ctx.len), 1 + ctx.len)
  return out
}

// ---------------------------------------------------------------------------------------------
// API

/** The public key 04||x||y of a private key d (P = d·G). Throws on a malformed or out-of-range key. */
export function sm2PublicKey(privateKey: Uint8Array, curve: Sm2Curve = SM2_CURVE): Uint8Array {
  const ctx = ctxOf(curve)
  return encodePoint(ctx, publicPoint(ctx, privateScalar(ctx, privateKey)))
}

function publicPoint(ctx: Ctx, d: bigint): Aff {
  const P = toAffine(ctx, mulG(ctx, d))
  if (!P) throw new Error('sm2: d·G is infinity') // impossible for 1 ≤ d < n
  return P
}

/** A fresh key pair: private scalar d as 32-byte big-endian, public key as the 65-byte uncompressed point 04||x||y. */
export function sm2KeyPair(): { privateKey: Uint8Array; publicKey: Uint8Array } {
  const ctx = ctxOf(SM2_CURVE)
  const d = randomScalar(ctx, 1n, ctx.c.n - 2n)
  return { privateKey: toBytes(d, ctx.len), publicKey: encodePoint(ctx, publicPoint(ctx, d)) }
}

/**
 * What signing needs of a private key beyond d: its public point (for Z_A) and (1 + d)^−1 mod n.
 * A node signs with one key all its life, so these are kept with the key's array (a WeakMap: they
 * go when the key goes), checked against its current bytes in case the caller reused the array.
 */
const signingKeys = new WeakMap<Uint8Array, { ctx: Ctx; bytes: string; d: bigint; pub: Aff; dInv: bigint }>()

function signingKey(ctx: Ctx, privateKey: Uint8Array): { d: bigint; pub: Aff; dInv: bigint } {
  const d = privateScalar(ctx, privateKey)
  const bytes = Buffer.from(privateKey.buffer, privateKey.byteOffset, privateKey.byteLength).toString('hex')
  const hit = signingKeys.get(privateKey)
  if (hit && hit.ctx === ctx && hit.bytes === bytes) return hit
  const entry = { ctx, bytes, d, pub: publicPoint(ctx, d), dInv: invPrime(1n + d, ctx.c.n) }
  signingKeys.set(privateKey, entry)
  return entry
}

/** SM2 signature (GB/T 32918.2) with SM3 and Z_A over the user id (default '1234567812345678'): r||s, 64 bytes. */
export function sm2Sign(
  privateKey: Uint8Array,
  message: Uint8Array,
  opts: { id?: Uint8Array; k?: bigint /* tests only */; curve?: Sm2Curve } = {},
): Uint8Array {
  const ctx = ctxOf(opts.curve ?? SM2_CURVE)
  const { n } = ctx.c
  const { d, pub, dInv } = signingKey(ctx, privateKey)
  // Z_A binds the signer's public key and id into the digest (A1–A2).
  const e = digest(ctx, opts.id ?? DEFAULT_ID, pub, message)
  for (let attempt = 0; ; attempt++) {
    // A3: k in [1, n−1]. A fixed k (the standard's examples) is for tests only.
    if (opts.k !== undefined && (opts.k < 1n || opts.k >= n)) throw new RangeError('sm2: k out of range [1, n-1]')
    if (attempt > 0 && opts.k !== undefined) throw new Error('sm2: the given k yields r = 0, r + k = n or s = 0')
    if (attempt > 64) throw new Error('sm2: no valid nonce after 64 tries') // probability ~ 2^-16000
    const k = opts.k ?? randomScalar(ctx, 1n, n - 1n)
    const P1 = toAffine(ctx, mulG(ctx, k)) // A4: (x1, y1) = k·G
    if (!P1) continue
    const r = (e + P1.x) % n // A5
    if (r === 0n || r + k === n) continue
    const s = (dInv * mod(k - r * d, n)) % n // A6: s = (1 + d)^−1 · (k − r·d)
    if (s === 0n) continue
    const out = new Uint8Array(2 * ctx.len)
    out.set(toBytes(r, ctx.len), 0)
    out.set(toBytes(s, ctx.len), ctx.len)
    return out
  }
}

/**
 * Checks an r||s signature (GB/T 32918.2 §7): false — never an exception — for a malformed
 * public key or signature, r or s outside [1, n−1], or a mismatch.
 */
export function sm2Verify(
  publicKey: Uint8Array,
  message: Uint8Array,
  signature: Uint8Array,
  opts: { id?: Uint8Array; curve?: Sm2Curve } = {},
): boolean {
  try {
    const ctx = ctxOf(opts.curve ?? SM2_CURVE)
    const { n } = ctx.c
    if (!(message instanceof Uint8Array) || !(signature instanceof Uint8Array) || signature.length !== 2 * ctx.len) return false
    const id = opts.id ?? DEFAULT_ID
    if (!(id instanceof Uint8Array) || id.length * 8 > 0xffff) return false
    const P = decodePoint(ctx, publicKey)
    if (!P) return false
    const r = toBig(signature.subarray(0, ctx.len))
    const s = toBig(signature.subarray(ctx.len))
    if (r < 1n || r >= n || s < 1n || s >= n) return false // B1, B2
    const e = digest(ctx, id, P, message) // B3, B4
    const t = (r + s) % n // B5
    if (t === 0n) return false
    const R = toAffine(ctx, add(ctx, mulG(ctx, s), mulVar(ctx, P, t))) // B6: s·G + t·P
    if (!R) return false
    return (e + R.x) % n === r // B7
  } catch {
    return false
  }
}
