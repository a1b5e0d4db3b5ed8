/**
 * Peer: automerge-repo over its WebSocket adapter. One Automerge document holds the N cases (a map
 * of case id → the case JSON, one `change` per case, as a village takes them in offline) — the
 * same shape as the y-websocket room. The client repo is created with no network, filled, then
 * given a `WebSocketClientAdapter` (ws through the emulator; isomorphic-ws resolves to `ws` on
 * Node, no global WebSocket needed); the server repo has a `WebSocketServerAdapter` on a ws server
 * and the sync server's share policy (it shares only what is asked for). Done when the server repo's
 * handle of that document holds all N.
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { WebSocketServer } from 'ws'
import { Repo, type DocHandle, type PeerId } from '@automerge/automerge-repo'
import { WebSocketClientAdapter, WebSocketServerAdapter } from '@automerge/automerge-repo-network-websocket'
import type { Application } from '../../protocol/index.ts'
import { makeCases, rawJsonBytes } from '../lib/cases.ts'
import { startLinkInWorker, type WorkerLink } from '../lib/link-worker.ts'
import { connectionGauge, pollUntil, settle, verdict, type PeerProfile, type PeerResult } from './common.ts'

export const name = 'automerge-repo 2.5.6 (network-websocket 2.5.6)'

interface CasesDoc { cases: Record<string, Application> }

export async function run(n: number, profile: PeerProfile): Promise<PeerResult> {
  const cases = makeCases(n)
  const rawJson = rawJsonBytes(cases)

  const server = http.createServer((_req, res) => { res.writeHead(404); res.end() })
  const gauge = connectionGauge(server)
  const wss = new WebSocketServer({ server })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const serverRepo = new Repo({ network: [new WebSocketServerAdapter(wss as never)], peerId: 'sync-server' as PeerId, sharePolicy: async () => false })

  // Offline intake: a repo with no network yet, one change per case.
  const clientRepo = new Repo({ network: [], peerId: 'village' as PeerId })
  const handle = clientRepo.create<CasesDoc>({ cases: {} })
  for (const c of cases) handle.change((d) => { d.cases[c.id] = c })

  let link: WorkerLink | null = null
  let lastCount = 0
  const serverCount = (): number => {
    const h = serverRepo.handles[handle.documentId] as DocHandle<CasesDoc> | undefined
    if (!h || !h.isReady()) return lastCount
    lastCount = Object.keys(h.doc()?.cases ?? {}).length
    return lastCount
  }
  try {
    link = await startLinkInWorker({ host: '127.0.0.1', port: (server.address() as AddressInfo).port }, profile)
    const t0 = performance.now()
    clientRepo.networkSubsystem.addNetworkAdapter(new WebSocketClientAdapter(link.url().replace(/^http/, 'ws')))
    const finished = await pollUntil(() => serverCount() >= n, profile.timeoutMs, 250)
    const tDone = finished ? performance.now() : null
    const atDone = await link.stats()
    const maxConcurrent = gauge.max() // until the finish (or the timeout)
    const settled = finished ? await settle(link, profile.settleMs ?? 60_000) : undefined
    return verdict({
      n, rawJson, finished, t0, tDone, atDone, settled, profile, maxConcurrent,
      progress: finished ? undefined : `the server held ${lastCount} of ${n}`,
    })
  } finally {
    const shutdown = async (repo: Repo) => { await repo.shutdown() } // may throw (an adapter's assert): ignored
    await Promise.race([Promise.allSettled([shutdown(clientRepo), shutdown(serverRepo)]), new Promise((r) => setTimeout(r, 5_000))])
    for (const c of wss.clients) c.terminate()
    await new Promise<void>((r) => wss.close(() => r()))
    server.closeAllConnections()
    await new Promise<void>((r) => server.close(() => r()))
    await link?.close()
  }
}
