/**
 * The cost of a node signature: Ed25519 from node:crypto (the default node key) against SM2 with
 * SM3 from nodes/core/trust/sm2.ts (the 国密 option, pure TypeScript over BigInt), and, for
 * reference, OpenSSL's native SM2 through node:crypto (not used by the tree: Node cannot set
 * OpenSSL's SM2 user id, see sm2.test.ts).
 *
 * Message: a ~400-byte canonical event, the size the tree signs per case event. Each operation
 * is timed one at a time after a warm-up; prints median, p99 and operations per second.
 * Run: npm run bench:sign   Knobs (env): BENCH_N (operations per measurement, 2000).
 */
import { createPrivateKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto'
import { cpus } from 'node:os'
import { sm2KeyPair, sm2Sign, sm2Verify } from '../nodes/core/trust/sm2.ts'

const N = process.env.BENCH_N ? Number(process.env.BENCH_N) : 2000
const WARMUP = Math.min(200, N)

const message = new TextEncoder().encode(JSON.stringify({
  type: 'approved', caseId: '511302101201-20260302-0001', lamport: 7, author: '511302101000',
  user: '王科长', at: '2026-03-02T10:30:00.000+08:00', note: '材料齐全，符合条件，准予办理。'.repeat(6),
}))

function measure(op: () => unknown): { p50: number; p99: number; perSec: number } {
  for (let i = 0; i < WARMUP; i++) op()
  const t: number[] = new Array(N)
  const start = performance.now()
  for (let i = 0; i < N; i++) {
    const t0 = performance.now()
    op()
    t[i] = performance.now() - t0
  }
  const total = performance.now() - start
  t.sort((a, b) => a - b)
  return { p50: t[Math.floor(N / 2)], p99: t[Math.min(N - 1, Math.floor(N * 0.99))], perSec: N / (total / 1000) }
}

const rows: [string, string, ReturnType<typeof measure>][] = []

{
  const { privateKey, publicKey } = generateKeyPairSync('ed25519')
  const sig = sign(null, message, privateKey)
  rows.push(['Ed25519 (node:crypto)', 'sign', measure(() => sign(null, message, privateKey))])
  rows.push(['Ed25519 (node:crypto)', 'verify', measure(() => verify(null, message, publicKey, sig))])
}
{
  const t0 = performance.now()
  const k = sm2KeyPair() // the first call builds the fixed-base table for G
  const first = performance.now() - t0
  const sig = sm2Sign(k.privateKey, message)
  if (!sm2Verify(k.publicKey, message, sig)) throw new Error('sm2 round trip failed')
  rows.push(['SM2/SM3 (sm2.ts, BigInt)', 'key pair', measure(() => sm2KeyPair())])
  rows.push(['SM2/SM3 (sm2.ts, BigInt)', 'sign', measure(() => sm2Sign(k.privateKey, message))])
  rows.push(['SM2/SM3 (sm2.ts, BigInt)', 'verify', measure(() => sm2Verify(k.publicKey, message, sig))])
  console.log(`first SM2 key pair, including the one-time table for G: ${first.toFixed(1)} ms`)
}
{
  // Reference only: OpenSSL's SM2 (a key taken through PEM is an SM2 key to OpenSSL 3).
  const pem = generateKeyPairSync('ec', { namedCurve: 'SM2' }).privateKey.export({ format: 'pem', type: 'pkcs8' })
  const key: KeyObject = createPrivateKey(pem)
  const sig = sign(null, message, key)
  rows.push(['SM2/SM3 (OpenSSL, reference)', 'sign', measure(() => sign(null, message, key))])
  rows.push(['SM2/SM3 (OpenSSL, reference)', 'verify', measure(() => verify(null, message, key, sig))])
}

console.log(`\n${cpus()[0]?.model ?? 'cpu'} · Node ${process.version} · ${message.length}-byte message · ${N} operations each\n`)
console.log('| Algorithm | Operation | p50 | p99 | ops/s |')
console.log('|---|---|---:|---:|---:|')
const us = (ms: number) => (ms < 1 ? `${(ms * 1000).toFixed(0)} µs` : `${ms.toFixed(2)} ms`)
for (const [alg, op, m] of rows) console.log(`| ${alg} | ${op} | ${us(m.p50)} | ${us(m.p99)} | ${Math.round(m.perSec).toLocaleString('en')} |`)
