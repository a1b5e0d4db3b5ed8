/**
 * CPU of decoding a bytea result (a stored update read back): PGlite's own parser (a parseInt a
 * byte in JavaScript) against the store's parseBytea (Buffer, store/pglite.ts), at a case's update
 * (1,300 B) and a statistics document's (100 KB). Run: node --import tsx bench/bytea-parse.ts
 */
import { types } from '@electric-sql/pglite'
import { parseBytea } from '../nodes/core/store/pglite.ts'
const own = (types as any).parsers[17] as (s: string) => Uint8Array
for (const size of [1300, 100_000]) {
  const bytes = Buffer.alloc(size); for (let i = 0; i < size; i++) bytes[i] = (i * 131) & 255
  const text = '\\x' + bytes.toString('hex')
  for (const [name, f] of [['pglite', own], ['buffer', parseBytea], ['pglite', own], ['buffer', parseBytea]] as const) {
    const n = size > 10_000 ? 200 : 5000
    const t0 = process.cpuUsage(); let sum = 0
    for (let i = 0; i < n; i++) sum += f(text)[size - 1]
    const c = process.cpuUsage(t0)
    if (!Buffer.from(f(text)).equals(bytes)) throw new Error('mismatch')
    console.log(`${size} B ${name}: ${((c.user + c.system) / 1000 / n).toFixed(4)} ms a value (${sum})`)
  }
}
