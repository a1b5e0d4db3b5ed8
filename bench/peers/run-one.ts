/**
 * Runs one peer for one N in a process of its own (bench/link-peers.ts spawns it), so a peer's
 * module state, leaked timers and crashes stay out of the next run. Prints one line
 * `PEER-RESULT {json}` and exits.
 * Usage: node --import tsx bench/peers/run-one.ts <peer> <n>   (profile in PEER_PROFILE as JSON)
 */
import type { PeerProfile, PeerResult } from './common.ts'

export const PEERS = {
  'y-websocket': () => import('./y-websocket.ts'),
  pouchdb: () => import('./pouchdb.ts'),
  'automerge-repo': () => import('./automerge-repo.ts'),
} as const
export type PeerName = keyof typeof PEERS

const [peer, nArg] = process.argv.slice(2)
if (!(peer in PEERS) || !(Number(nArg) > 0)) {
  console.error(`usage: run-one.ts <${Object.keys(PEERS).join('|')}> <n>`)
  process.exit(2)
}
const profile = JSON.parse(process.env.PEER_PROFILE ?? 'null') as PeerProfile | null
if (!profile) {
  console.error('PEER_PROFILE (JSON) is required')
  process.exit(2)
}

// A stock client may throw from inside a socket event handler (automerge-repo's websocket client
// rethrows ECONNRESET); count and report those instead of dying, as a long-running app would have to.
const uncaught: string[] = []
process.on('uncaughtException', (e) => { uncaught.push(String((e as Error)?.message ?? e)) })
process.on('unhandledRejection', (e) => { uncaught.push(String((e as Error)?.message ?? e)) })

const mod = await PEERS[peer as PeerName]()
let result: PeerResult
try {
  result = await mod.run(Number(nArg), profile)
} catch (e) {
  result = { n: Number(nArg), seconds: null, bytesUp: 0, bytesDown: 0, finished: false, note: `failed: ${(e as Error)?.stack ?? e}`, rawJson: 0 }
}
if (uncaught.length) {
  const kinds = [...new Set(uncaught)].slice(0, 3).join(' | ')
  result.note = [result.note, `${uncaught.length} uncaught exception(s) in the stock code, swallowed: ${kinds}`].filter(Boolean).join('; ')
}
console.log(`PEER-RESULT ${JSON.stringify({ peer, name: mod.name, ...result })}`)
process.exit(0)
