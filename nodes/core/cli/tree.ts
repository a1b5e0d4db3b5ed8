/**
 * A tree of real node processes on loopback — the demo, and the tests that need one. Each node
 * runs `tongban start` in its own process with its own data dir, enrolled with its parent;
 * nodes start level by level so each parent listens before its children dial it, a few at a
 * time, and new nodes start from one store initialised for them all (store/pglite.ts).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { join } from 'node:path'
import { parentCode, type Level } from '../../../protocol/index.ts'
import { enrollChild } from '../link/enrollment.ts'
import { pinToken } from '../link/token.ts'
import { PROJECT_ROOT } from '../node.ts'

export interface TreeNodeSpec {
  level: Level
  code: string
  name: string
}

export interface TreeNode extends TreeNodeSpec {
  url: string
  port: number
  dataDir: string
  proc: ChildProcess | null
  /** Output of the process so far (for diagnosing a failed test). */
  log: string[]
}

/** The demo tree: 1 city, 2 counties, 2 townships under each, 2 villages under each township. */
export const DEMO_TREE: TreeNodeSpec[] = [
  { level: 'city', code: '511300000000', name: '南充市' },
  { level: 'county', code: '511302000000', name: '顺庆区' },
  { level: 'county', code: '511303000000', name: '高坪区' },
  { level: 'township', code: '511302101000', name: '潆溪镇' },
  { level: 'township', code: '511302102000', name: '芦溪镇' },
  { level: 'township', code: '511303101000', name: '东观镇' },
  { level: 'township', code: '511303102000', name: '长乐镇' },
  { level: 'village', code: '511302101201', name: '长青村' },
  { level: 'village', code: '511302101202', name: '青松村' },
  { level: 'village', code: '511302102201', name: '河西村' },
  { level: 'village', code: '511302102202', name: '白塔村' },
  { level: 'village', code: '511303101201', name: '石圭村' },
  { level: 'village', code: '511303101202', name: '桂花村' },
  { level: 'village', code: '511303102201', name: '红星村' },
  { level: 'village', code: '511303102202', name: '新华村' },
]

export const DEMO_PASSWORD = 'tongban-demo'

/** Demo users per level: everyone gets the same demo password. */
export function demoUsers(level: Level): { name: string; role: string; password: string; department?: string }[] {
  const roles = level === 'village' ? ['agent'] : level === 'township' ? ['staff', 'admin'] : ['staff', 'admin', 'supervisor']
  const users: { name: string; role: string; password: string; department?: string }[] = roles.map((role) => ({ name: role, role, password: DEMO_PASSWORD }))
  // 并联审批: the sample's 农村建房预审 (T-004) is reviewed by two township departments; a staff user of each gives its opinion.
  if (level === 'township') users.push({ name: 'ziran', role: 'staff', password: DEMO_PASSWORD, department: '自然资源所' }, { name: 'nongye', role: 'staff', password: DEMO_PASSWORD, department: '农业农村办' })
  return users
}

const BIN = join(PROJECT_ROOT, 'bin/tongban.mjs')
const MAKE_TEMPLATE = join(PROJECT_ROOT, 'bin/make-template.mjs')

/**
 * How many nodes start at once. A start is CPU-bound (loading the sources, compiling PGlite's
 * WASM) and holds its peak memory until it listens: on 2 cores, 8 villages started together
 * only queue for the CPU with all 8 peaks held at once.
 */
export const START_POOL = Math.max(2, Math.min(4, availableParallelism()))

/** Runs `fn` over `items`, at most `limit` at a time; settles like Promise.allSettled. */
async function pooled<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<PromiseSettledResult<R>[]> {
  const results: PromiseSettledResult<R>[] = new Array(items.length)
  let next = 0
  const worker = async () => {
    while (next < items.length) {
      const i = next++
      results[i] = await fn(items[i]).then((value) => ({ status: 'fulfilled' as const, value }), (reason) => ({ status: 'rejected' as const, reason }))
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
  return results
}

/**
 * Initialises and migrates one PGlite store in `dir` (store/pglite.ts `makePgliteTemplate`), in a
 * child process (bin/make-template.mjs, from the bundle): PGlite's memory peak at initdb (~0.9 GB)
 * then leaves with it instead of staying in the demo's own process, whose WASM memory would never
 * shrink.
 */
function makeTemplate(dir: string, timeoutMs = 180_000): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [MAKE_TEMPLATE, dir], { cwd: PROJECT_ROOT, timeout: timeoutMs },
      (err, stdout, stderr) => (err ? reject(new Error(`initialising the store template in ${dir} failed: ${err.message}\n${stdout}${stderr}`)) : resolve()))
  })
}

/**
 * Spawns one node and resolves with its URL once it prints its listening line. `bin` runs another
 * checkout's CLI (a benchmark comparing with an earlier commit); by default this one's.
 */
export function spawnNode(n: TreeNodeSpec & { dataDir: string; port: number; parentUrl?: string; token?: string; catalogue?: string; bin?: string }, timeoutMs = 180_000): Promise<TreeNode> {
  const args = ['start', '--level', n.level, '--code', n.code, '--name', n.name, '--data', n.dataDir, '--port', String(n.port)]
  if (n.parentUrl) args.push('--parent', n.parentUrl)
  if (n.parentUrl && n.token) args.push('--token', n.token)
  if (n.catalogue) args.push('--catalogue', n.catalogue)
  const proc = spawn(process.execPath, [n.bin ?? BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  const log: string[] = []
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL')
      reject(new Error(`${n.level} ${n.code} did not start within ${timeoutMs} ms:\n${log.join('')}`))
    }, timeoutMs)
    const onData = (d: Buffer) => {
      const text = d.toString()
      log.push(text)
      if (log.length > 500) log.splice(0, log.length - 500)
      const m = /listening on (https?:\/\/[\d.]+:(\d+))/.exec(text)
      if (m) {
        clearTimeout(timer)
        resolve({ ...n, url: m[1], port: Number(m[2]), proc, log })
      }
    }
    proc.stdout.on('data', onData)
    proc.stderr.on('data', onData)
    proc.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`${n.level} ${n.code} exited with ${code}:\n${log.join('')}`))
    })
  })
}

/**
 * Starts `specs` as a tree under `root`: enrols every child with its parent, provisions demo
 * users on first start, and starts level by level. `basePort` 0 lets the OS pick ports.
 */
export async function startTree(root: string, specs: TreeNodeSpec[] = DEMO_TREE, opts: { basePort?: number } = {}): Promise<TreeNode[]> {
  const nodes: TreeNode[] = []
  const dataDirOf = (s: TreeNodeSpec) => join(root, `${s.level}-${s.code}`)
  const template = join(root, '.pgdata-template')
  try {
    // Every new node's store starts as a copy of one initialised and migrated store.
    const fresh = specs.filter((s) => !existsSync(join(dataDirOf(s), 'pgdata')))
    if (fresh.length > 1) {
      rmSync(template, { recursive: true, force: true })
      mkdirSync(root, { recursive: true })
      await makeTemplate(template)
      for (const s of fresh) cpSync(template, join(dataDirOf(s), 'pgdata'), { recursive: true })
      rmSync(template, { recursive: true, force: true })
    }
    for (const level of ['city', 'county', 'township', 'village'] as const) {
      const batch = specs.filter((s) => s.level === level)
      const settled = await pooled(batch, START_POOL, async (s) => {
        const dataDir = dataDirOf(s)
        const fresh = !existsSync(join(dataDir, 'node.json'))
        mkdirSync(dataDir, { recursive: true })
        if (fresh) writeFileSync(join(dataDir, 'users.seed.json'), JSON.stringify(demoUsers(s.level)))
        const parent = nodes.find((p) => p.code === parentCode(s.code))
        // Enrolled on its first start (a one-time token for its key; re-enrolling would retire
        // the key); on a restart only the parent's URL is given again, its port may have changed.
        // The token pins the parent's certificate (`<secret>#<sha256>`): the links run over TLS.
        const token = parent && fresh ? pinToken(enrollChild(parent.dataDir, parent.code, s.code), parent.dataDir) : undefined
        const port = opts.basePort ? opts.basePort + specs.indexOf(s) : 0
        return spawnNode({ ...s, dataDir, port, parentUrl: parent?.url, token, catalogue: level === 'city' ? 'sample' : undefined })
      })
      // Keep every node that started, so a failure of one stops the others too.
      for (const r of settled) if (r.status === 'fulfilled') nodes.push(r.value)
      const failed = settled.find((r) => r.status === 'rejected')
      if (failed) throw (failed as PromiseRejectedResult).reason
    }
    return nodes
  } catch (e) {
    await stopTree(nodes)
    throw e
  }
}

/** Stops every node (SIGTERM, then SIGKILL after a grace period). */
export async function stopTree(nodes: TreeNode[], graceMs = 10_000): Promise<void> {
  await Promise.all(nodes.map((n) => stopNode(n, graceMs)))
}

export function stopNode(n: TreeNode, graceMs = 10_000): Promise<void> {
  const p = n.proc
  if (!p || p.exitCode !== null || p.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => {
    const t = setTimeout(() => p.kill('SIGKILL'), graceMs)
    p.once('exit', () => {
      clearTimeout(t)
      resolve()
    })
    p.kill('SIGTERM')
  })
}
