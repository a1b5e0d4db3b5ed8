/**
 * Peer: PouchDB replication to express-pouchdb. The client is PouchDB 9 (pouchdb-core with the
 * memory, http and replication plugins: no native leveldown) holding N docs, one per case (the case
 * JSON with its `id` as `_id`), each `put` on its own as a village takes them in offline; then
 * `db.replicate.to(<express-pouchdb through the emulator>)`, stock options. The server is
 * express-pouchdb 4.2.0 (an express 4 app, mode `minimumForPouchDB`) over PouchDB with the memory
 * adapter, on 127.0.0.1. Done when the server's database holds all N (its doc_count, read on
 * loopback, not through the link).
 */
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import PouchDB from 'pouchdb-core'
import MemoryAdapter from 'pouchdb-adapter-memory'
import HttpAdapter from 'pouchdb-adapter-http'
import Replication from 'pouchdb-replication'
import MapReduce from 'pouchdb-mapreduce'
import expressPouchDB from 'express-pouchdb'
import { makeCases, rawJsonBytes } from '../lib/cases.ts'
import { startLinkInWorker, type WorkerLink } from '../lib/link-worker.ts'
import { connectionGauge, pollUntil, settle, verdict, type PeerProfile, type PeerResult } from './common.ts'

export const name = 'PouchDB 9.0.0 → express-pouchdb 4.2.0'

const Pouch = PouchDB.plugin(MemoryAdapter).plugin(HttpAdapter).plugin(Replication).plugin(MapReduce)

export async function run(n: number, profile: PeerProfile): Promise<PeerResult> {
  const cases = makeCases(n)
  const rawJson = rawJsonBytes(cases)
  const dbName = `cases-${n}-${process.pid}`

  const ServerPouch = Pouch.defaults({ adapter: 'memory', prefix: 'server-' })
  const app = expressPouchDB(ServerPouch, { mode: 'minimumForPouchDB' })
  const server: Server = await new Promise((resolve) => { const s = app.listen(0, '127.0.0.1', () => resolve(s)) })
  const gauge = connectionGauge(server)
  const direct = `http://127.0.0.1:${(server.address() as AddressInfo).port}/${dbName}`

  // Offline intake: one put per case, before the link comes up.
  const local = new Pouch(`client-${dbName}`, { adapter: 'memory' })
  for (const { id, ...rest } of cases) await local.put({ _id: id, ...rest })

  let link: WorkerLink | null = null
  let replication: { cancel(): void } | null = null
  let replicationError: unknown = null
  let lastCount = 0
  const serverCount = async (): Promise<number> => {
    const r = await fetch(direct, { signal: AbortSignal.timeout(5_000) })
    if (!r.ok) return lastCount
    lastCount = ((await r.json()) as { doc_count: number }).doc_count
    return lastCount
  }
  try {
    link = await startLinkInWorker({ host: '127.0.0.1', port: (server.address() as AddressInfo).port }, profile)
    const t0 = performance.now()
    const rep = local.replicate.to(link.url(`/${dbName}`))
    replication = rep
    rep.catch((e: unknown) => { replicationError = e })
    const finished = await pollUntil(async () => (await serverCount()) >= n, profile.timeoutMs, 100)
    const tDone = finished ? performance.now() : null
    const atDone = await link.stats()
    const maxConcurrent = gauge.max() // until the finish (or the timeout)
    const settled = finished ? await settle(link, profile.settleMs ?? 60_000) : undefined
    const extra: string[] = []
    if (replicationError) extra.push(`replication error: ${(replicationError as Error)?.message ?? String(replicationError)}`)
    return verdict({
      n, rawJson, finished, t0, tDone, atDone, settled, profile, extra, maxConcurrent,
      progress: finished ? undefined : `the server held ${lastCount} of ${n}`,
    })
  } finally {
    replication?.cancel()
    await local.destroy().catch(() => {})
    server.closeAllConnections()
    await new Promise<void>((r) => server.close(() => r()))
    await link?.close()
  }
}
