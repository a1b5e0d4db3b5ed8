/**
 * Two network namespaces joined by a shaped line (bench/netns/shaper.py), and the processes run
 * inside them. Layout (addresses chosen clear of the host's own 192.0.2.0/24):
 *
 *   tb-vil   tbv0 10.201.0.2 ──(TUN)── shaper.py ──(TUN)── tbt0 10.201.0.1   tb-town
 *            m0   10.202.2.2 ── veth ── tbm-vil   10.202.2.1 (this namespace)
 *            m0   10.202.1.2 ── veth ── tbm-town  10.202.1.1 (this namespace)
 *
 * The 10.201.0.0 pair is the line under test: the village reaches the township only through the
 * shaper. The veths are an unshaped management path so the bench (in the host namespace) can
 * drive both nodes' HTTP APIs without its own polling going over the line it measures.
 *
 * Cleanup is unconditional: `teardownSync` runs on exit, on SIGINT/SIGTERM/SIGHUP and on an
 * uncaught error; it kills every process started here (by pid), then deletes the namespaces
 * (which takes the veths with them); the TUN devices vanish with the shaper, which is killed
 * with its parent (PR_SET_PDEATHSIG). A run killed with SIGKILL leaves the namespaces: the next
 * run (or `node --import tsx bench/link-netns.ts --cleanup`) removes them and kills what still
 * runs inside them first.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { createInterface } from 'node:readline'

export const NS_VIL = 'tb-vil'
export const NS_TOWN = 'tb-town'
export const ADDR = { townLine: '10.201.0.1', vilLine: '10.201.0.2', townMgmt: '10.202.1.2', vilMgmt: '10.202.2.2' } as const

export interface LineProfile { name: string; rateBitsPerSec: number; rttMs: number; lossRate: number }

const SHAPER = fileURLToPath(new URL('./shaper.py', import.meta.url))
export const BULK = fileURLToPath(new URL('./bulk.py', import.meta.url))

/** Every process started in (or for) the namespaces, killed by pid on any exit. */
const children = new Set<ChildProcess>()

function ip(...args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 })
}

function nsExists(ns: string): boolean {
  return existsSync(`/run/netns/${ns}`)
}

/** Kills what runs in our namespaces (by pid), then deletes them. Never throws. */
export function teardownSync(): void {
  for (const c of children) {
    if (c.exitCode === null && c.signalCode === null && c.pid) {
      try { process.kill(c.pid, 'SIGKILL') } catch { /* gone */ }
    }
  }
  children.clear()
  for (const ns of [NS_VIL, NS_TOWN]) {
    if (!nsExists(ns)) continue
    try {
      // Left by an earlier run that was killed outright: only our tools run in these namespaces.
      for (const pid of ip('netns', 'pids', ns).split('\n').map(Number).filter((p) => p > 0)) {
        try { process.kill(pid, 'SIGKILL') } catch { /* gone */ }
      }
    } catch { /* no pids */ }
    try { ip('netns', 'del', ns) } catch (e) { console.error(`ip netns del ${ns}: ${(e as Error).message}`) }
  }
  for (const dev of ['tbm-vil', 'tbm-town']) {
    try { ip('link', 'del', dev) } catch { /* went with its namespace */ }
  }
}

let hooked = false
function hookExit(): void {
  if (hooked) return
  hooked = true
  process.on('exit', teardownSync)
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      console.error(`\n${sig}: removing the namespaces and their processes`)
      teardownSync()
      process.exit(130)
    })
  }
  process.on('uncaughtException', (e) => {
    console.error(e)
    teardownSync()
    process.exit(1)
  })
}

/** A process started here, killed by pid when the bench ends however it ends. */
export function track(c: ChildProcess): ChildProcess {
  children.add(c)
  c.once('exit', () => children.delete(c))
  return c
}

/** Spawns `cmd` inside `ns` (`ip netns exec` execs it: the pid is the command's own). */
export function spawnIn(ns: string, cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): ChildProcess {
  return track(spawn('ip', ['netns', 'exec', ns, cmd, ...args], { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] }))
}

export interface ShaperStats {
  ms: number
  down: boolean
  up: DirStats
  dn: DirStats
  /** Ms from the last `up` to the first SYN from the village through the line (a probe or a dial). */
  synAfterUpMs: number | null
}
export interface DirStats { packets: number; bytes: number; payload: number; lost: number; lostBytes: number; queueDrops: number; cutDrops: number; syns: number; delivered: number }

export interface Line {
  profile: LineProfile
  queueBytes: number
  cmd(c: 'up' | 'down' | 'stats'): Promise<ShaperStats>
  close(): Promise<void>
}

function lines(c: ChildProcess): AsyncIterator<string> {
  return createInterface({ input: c.stdout! })[Symbol.asyncIterator]()
}

/** Next line of `it` within `ms`, or throws naming `what`. */
async function nextLine(it: AsyncIterator<string>, ms: number, what: string): Promise<string> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no ${what} within ${ms} ms`)), ms)))
  try {
    const r = await Promise.race([it.next(), timeout])
    if (r.done) throw new Error(`${what}: the process ended`)
    return r.value
  } finally {
    clearTimeout(timer)
  }
}

/** Creates both namespaces, the management veths and the shaped line. Removes leftovers first. */
export async function setupLine(profile: LineProfile, seed: number): Promise<Line> {
  if (process.getuid?.() !== 0) throw new Error('bench/link-netns.ts needs root (ip netns, /dev/net/tun)')
  hookExit()
  teardownSync()
  for (const [ns, dev, hostAddr, nsAddr] of [[NS_VIL, 'tbm-vil', '10.202.2.1', ADDR.vilMgmt], [NS_TOWN, 'tbm-town', '10.202.1.1', ADDR.townMgmt]] as const) {
    ip('netns', 'add', ns)
    ip('-n', ns, 'link', 'set', 'lo', 'up')
    ip('link', 'add', dev, 'type', 'veth', 'peer', 'name', 'm0', 'netns', ns)
    ip('addr', 'add', `${hostAddr}/30`, 'dev', dev)
    ip('link', 'set', dev, 'up')
    ip('-n', ns, 'addr', 'add', `${nsAddr}/30`, 'dev', 'm0')
    ip('-n', ns, 'link', 'set', 'm0', 'up')
  }
  const shaper = track(spawn('python3', [SHAPER, '--ns-a', NS_VIL, '--dev-a', 'tbv0', '--ns-b', NS_TOWN, '--dev-b', 'tbt0',
    '--rate', String(profile.rateBitsPerSec), '--rtt', String(profile.rttMs), '--loss', String(profile.lossRate), '--seed', String(seed)], { stdio: ['pipe', 'pipe', 'inherit'] }))
  const it = lines(shaper)
  const ready = JSON.parse(await nextLine(it, 30_000, 'ready line from the shaper')) as { queueBytes: number }
  for (const [ns, dev, local, peer] of [[NS_VIL, 'tbv0', ADDR.vilLine, ADDR.townLine], [NS_TOWN, 'tbt0', ADDR.townLine, ADDR.vilLine]] as const) {
    ip('-n', ns, 'addr', 'add', local, 'peer', peer, 'dev', dev)
    ip('-n', ns, 'link', 'set', dev, 'mtu', '1500', 'up')
  }
  // One command at a time: each is answered by exactly one line.
  let chain: Promise<unknown> = Promise.resolve()
  const cmd = (c: string) => {
    const p = chain.then(async () => {
      shaper.stdin!.write(`${c}\n`)
      return JSON.parse(await nextLine(it, 30_000, `answer of the shaper to ${c}`)) as ShaperStats
    })
    chain = p.catch(() => {})
    return p
  }
  return {
    profile,
    queueBytes: ready.queueBytes,
    cmd,
    async close() {
      shaper.stdin!.end()
      await new Promise<void>((r) => {
        const t = setTimeout(() => { shaper.kill('SIGKILL'); r() }, 5_000)
        if (shaper.exitCode !== null) { clearTimeout(t); r() } else shaper.once('exit', () => { clearTimeout(t); r() })
      })
      teardownSync()
    },
  }
}

/** Waits for a line of `c`'s stdout matching `re` (bounded). */
export function waitFor(c: ChildProcess, re: RegExp, ms: number, what: string): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    let buf = ''
    const done = (f: () => void) => { clearTimeout(timer); c.stdout!.off('data', onData); c.off('exit', onExit); f() }
    const onData = (d: Buffer) => {
      buf += d.toString()
      const m = re.exec(buf)
      if (m) done(() => resolve(m))
      if (buf.length > 100_000) buf = buf.slice(-10_000)
    }
    const onExit = (code: number | null) => done(() => reject(new Error(`${what}: the process exited (${code}) first; output: ${buf.slice(-2_000)}`)))
    const timer = setTimeout(() => done(() => reject(new Error(`no ${what} within ${ms} ms; output: ${buf.slice(-2_000)}`))), ms)
    c.stdout!.on('data', onData)
    c.once('exit', onExit)
  })
}

export interface LineCheck { connectMs: number; bulkBytes: number; bulkSeconds: number; mbitPerSec: number; upLoss: number; upPackets: number; queueDrops: number }

/**
 * Plain TCP over the line before a run: the handshake (one RTT), a bulk transfer village →
 * township of ~4 s of the rate (at least 64 KB), and the loss the shaper applied meanwhile.
 */
export async function checkLine(line: Line): Promise<LineCheck> {
  const bytes = Math.max(64 * 1024, Math.round((line.profile.rateBitsPerSec / 8) * 4))
  const server = spawnIn(NS_TOWN, 'python3', [BULK, 'serve', '5001', '--timeout', '300'])
  await waitFor(server, /"listening"/, 30_000, 'bulk server')
  const s0 = await line.cmd('stats')
  const client = spawnIn(NS_VIL, 'python3', [BULK, 'send', ADDR.townLine, '5001', String(bytes), '--timeout', '300'])
  const [c, s] = await Promise.all([waitFor(client, /\{.*\}/, 320_000, 'bulk client result'), waitFor(server, /\{"bytes".*\}/, 320_000, 'bulk server result')])
  const s1 = await line.cmd('stats')
  const cr = JSON.parse(c[0]) as { connectMs: number; seconds: number }
  const sr = JSON.parse(s[0]) as { bytes: number; seconds: number }
  const upPackets = s1.up.packets - s0.up.packets
  return {
    connectMs: cr.connectMs, bulkBytes: sr.bytes, bulkSeconds: cr.seconds, mbitPerSec: (sr.bytes * 8) / cr.seconds / 1e6,
    upLoss: upPackets ? (s1.up.lost - s0.up.lost) / upPackets : 0, upPackets, queueDrops: s1.up.queueDrops - s0.up.queueDrops,
  }
}
