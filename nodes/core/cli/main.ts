/**
 * The command line: `tongban start | user add | demo`. Flags are checked strictly; a mistake
 * gets one line saying what is wrong and how to fix it, and exit code 2.
 */
import { parseArgs } from 'node:util'
import { checkCodeForLevel, LEVELS, SIG_ALGS, type Level, type SigAlg } from '../../../protocol/index.ts'
import { ApiError } from '../errors.ts'
import { ConfigError, openNode } from '../node.ts'
import { DataDirLockedError, lockOwner } from '../store/lock.ts'
import { awaitUserAnswer, leaveUserRequest } from '../services/user-requests.ts'
import { hashPassword, NewUserSchema } from '../services/users.ts'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { startNode } from '../start.ts'
import { checkParentUrl, isLoopback, type TlsMode } from '../tls.ts'
import { runDemo } from './demo.ts'
import { tuneEngine } from './engine.ts'
import { readProvinceCredentials, type ProvinceConfig } from '../province/config.ts'

export const HELP = `tongban — 通办: one node of the four-level government service network

Usage:
  tongban start --level LEVEL --code CODE --name NAME --data DIR [--port N] [--host H]
                [--catalogue sample|FILE] [--parent URL --token T] [--database-url URL]
                [--tls-cert FILE --tls-key FILE | --insecure-http] [--parent-fingerprint SHA256]
                [--accept-journal-loss] [--public-url URL]
                [--province-url URL --province-credentials FILE]
  tongban user add --data DIR --name NAME --role ROLE --password P [--display-name NAME] [--phone PHONE] [--department DEPT]
  tongban child add --data DIR --code CHILD
  tongban child revoke --data DIR --code CHILD
  tongban child rename --data DIR --code CHILD --name NAME
  tongban backup --data DIR --out FILE
  tongban restore --data DIR --from FILE [--force] [--database-url URL]
  tongban restore --data DIR --parent URL --token T --name NAME [--recovery-code CODE]
  tongban store vacuum --data DIR
  tongban demo [--data DIR] [--base-port N]
  tongban --help

start               run a node and serve its API and web UI
  --level           city | county | township | village
  --code            the node's 12-digit division code (行政区划代码); it must fit the level:
                      city 511300000000, county 511302000000, township 511302101000, village 511302101201
  --name            the node's name, e.g. 长青村
  --data            the data dir: holds the store and is locked against a second process
  --port            port to listen on (default 0: any free port); the URL is printed once serving
  --host            address to listen on (default 127.0.0.1)
  --catalogue       seed an empty catalogue: "sample" (the built-in sample) or a JSON file
                      (the city seeds the sample by default)
  --parent, --token the parent node's https URL and this node's one-time enrollment token (it
                      carries the parent's certificate fingerprint, which this node pins)
  --tls-cert, --tls-key
                    serve https with this certificate and private key (PEM files); without
                      them a self-signed certificate is made at first start in DIR/tls/
  --insecure-http   serve plain http (development only: loopback addresses only)
  --parent-fingerprint
                    pin this SHA-256 fingerprint for the parent's certificate (after the parent
                      changed its certificate; otherwise the token's pin is kept)
  --database-url    use a PostgreSQL server instead of the embedded store (county or city)
  --sign-alg        the node key made at first start: ed25519 (default) or sm2 (国密 SM2 with SM3);
                    a node keeps its key's algorithm for life
  --accept-journal-loss
                    start even though the durability journal has damaged records (after a
                      power cut or a disk fault): the good records are replayed, the damaged
                      ones are logged and kept aside. Without it such a start is refused.
  --public-url      the address applicants reach this node's progress lookup at (e.g.
                      https://zwfw.example.gov.cn): printed on every receipt; remembered, so
                      later starts need it only to change it. Never a loopback address.
  --province-url    push 办件信息 and 好差评 to the provincial platform at this https base URL
                      (city or county only; docs/province-api.md). Give it at every start of
                      the one node that pushes: which node pushes is this flag.
  --province-credentials
                    a JSON file {"clientId": "…", "clientSecret": "…"} the province issued (or
                      the same JSON in TONGBAN_PROVINCE_CREDENTIALS); never printed

user add            create a user in a node's data dir; works while the node runs (the running
                    node adds the user within a second), so the first administrator of a new
                    node can be added right after its first start
  --role            agent (代办员) | staff (窗口工作人员) | admin (管理员) | supervisor (监督员)
  --password        at least 6 characters (an administrator's at least 10)
  --display-name    the name timelines and receipts show beside the login (e.g. 李秀兰)
  --phone           the user's work phone, printed on the receipts they hand out
  --department      the staff user's department (e.g. 自然资源所): they give its opinions on
                      并联审批 items that name it

child add           enrol a child node (its code directly below this node's) and print its
                    one-time token, exchanged once for the child's key; works while the node
                    runs. Re-enrolling (a replaced laptop) retires the key it held before.
child revoke        retire a child's key (a lost laptop): its link is cut at once and refused
child rename        give a child unit a new name (it keeps its code): the running node publishes
                    it in the unit directory, and every node of the tree shows the new name

backup              copy a stopped node's whole data dir (store, keys, enrollments, journal) to
                    one file, checksummed; refused while the node runs (stop it first)
restore --from      put a backup back into an empty data dir (--force: replace what it holds);
                    a damaged file is refused before anything is written. The restored store
                    gets a new epoch: its links repair what changed since the backup
restore --parent    a lost or broken village laptop, on a new one: enrols with a new token from
                    \`tongban child add\` on the parent (the old laptop's key is retired), pulls
                    back every case on the unit's path, and with --recovery-code (printed at the
                    old laptop's first start) opens the unit's escrow: its own cases, kept at the
                    parent sealed. Says what it restored; what the old laptop never sent is lost

store vacuum        give a stopped node's embedded store back the disk its dead rows hold:
                    merges every closed case past the retention, then VACUUM FULL. For a store
                    filled by an older version, whose files keep their size after the upgrade.
                    Start the node once with this version first.

demo                start a demo tree of 15 nodes (1 city, 2 counties, 4 townships, 8 villages)
                    on loopback, each on its own embedded store in DIR (default ./demo-data),
                    with sample cases; prints every node's URL and its logins. Not for real use.
`

class UsageError extends Error {}

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv
  try {
    if (!cmd || cmd === '--help' || cmd === '-h' || cmd === 'help') {
      process.stdout.write(HELP)
      return 0
    }
    if (cmd === 'start') return await start(rest)
    if (cmd === 'user' && rest[0] === 'add') return await userAdd(rest.slice(1))
    if (cmd === 'demo') return await runDemo(rest)
    if (cmd === 'backup') return await (await import('./backup.ts')).backupCommand(rest)
    if (cmd === 'restore') return await (await import('./backup.ts')).restoreCommand(rest)
    if (cmd === 'store' && rest[0] === 'vacuum') return await (await import('./vacuum.ts')).vacuumCommand(rest.slice(1))
    if (cmd === 'child' && rest[0] === 'add') return await childAdd(rest.slice(1))
    if (cmd === 'child' && rest[0] === 'revoke') return await childRevoke(rest.slice(1))
    if (cmd === 'child' && rest[0] === 'rename') return await childRename(rest.slice(1))
    throw new UsageError(`unknown command "${[cmd, ...rest.slice(0, 1)].join(' ')}"; try: tongban --help`)
  } catch (e) {
    if (e instanceof UsageError || e instanceof ConfigError || e instanceof DataDirLockedError || e instanceof ApiError) {
      process.stderr.write(`tongban: ${e.message}\n`)
      return 2
    }
    if (e instanceof TypeError && (e as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`tongban: ${e.message}; try: tongban --help\n`)
      return 2
    }
    throw e
  }
}

function parse<T extends Record<string, { type: 'string' | 'boolean' }>>(args: string[], options: T) {
  return parseArgs({ args, options: { ...options, help: { type: 'boolean' } }, strict: true, allowPositionals: false }).values as {
    [K in keyof T]?: T[K]['type'] extends 'string' ? string : boolean
  } & { help?: boolean }
}

function need(v: string | undefined, flag: string): string {
  if (!v) throw new UsageError(`--${flag} is required; try: tongban --help`)
  return v
}

async function start(args: string[]): Promise<number> {
  const f = parse(args, {
    level: { type: 'string' }, code: { type: 'string' }, name: { type: 'string' }, data: { type: 'string' },
    port: { type: 'string' }, host: { type: 'string' }, catalogue: { type: 'string' }, parent: { type: 'string' },
    token: { type: 'string' }, 'database-url': { type: 'string' }, 'sign-alg': { type: 'string' },
    'tls-cert': { type: 'string' }, 'tls-key': { type: 'string' }, 'insecure-http': { type: 'boolean' }, 'parent-fingerprint': { type: 'string' },
    'accept-journal-loss': { type: 'boolean' }, 'public-url': { type: 'string' },
    'province-url': { type: 'string' }, 'province-credentials': { type: 'string' },
  })
  if (f.help) return (process.stdout.write(HELP), 0)
  const level = need(f.level, 'level') as Level
  if (!LEVELS.includes(level)) throw new UsageError(`--level must be one of ${LEVELS.join(', ')}, not "${level}"`)
  const code = need(f.code, 'code')
  const bad = checkCodeForLevel(code, level)
  if (bad) throw new UsageError(`--code: ${bad}`)
  const port = f.port === undefined ? 0 : Number(f.port)
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port must be 0–65535, not "${f.port}"`)
  // --token without --parent has nowhere to go; --parent alone moves an enrolled node's parent URL
  // (its key is registered there already: it needs no token again).
  const signAlg = f['sign-alg'] as SigAlg | undefined
  if (signAlg !== undefined && !SIG_ALGS.includes(signAlg)) throw new UsageError(`--sign-alg is ${SIG_ALGS.join(' or ')}, not "${signAlg}"`)
  if (f.token && !f.parent) throw new UsageError('--token needs --parent: the URL of the node that issued it with `tongban child add`')
  if (f.parent && !/^https?:\/\/\S+$/.test(f.parent)) throw new UsageError(`--parent must be an https URL, not "${f.parent}"`)
  if (f.parent) {
    const bad = checkParentUrl(f.parent)
    if (bad) throw new UsageError(bad)
    if (f.parent.startsWith('http:')) process.stderr.write(`tongban: warning: --parent ${f.parent} is plain http: only safe on this machine (loopback)\n`)
  }
  if (Boolean(f['tls-cert']) !== Boolean(f['tls-key'])) throw new UsageError('--tls-cert and --tls-key go together: the certificate and its private key, both PEM files')
  if (f['insecure-http'] && f['tls-cert']) throw new UsageError('--insecure-http and --tls-cert contradict each other: choose one')
  const host = f.host ?? '127.0.0.1'
  if (f['insecure-http'] && !isLoopback(host)) {
    throw new UsageError(`--insecure-http is for development on this machine only: refusing to listen on ${host} without TLS (drop --insecure-http to use a self-signed certificate, or give --tls-cert/--tls-key)`)
  }
  if (f['province-credentials'] && !f['province-url']) throw new UsageError('--province-credentials needs --province-url: the base URL of the provincial exchange')
  let province: ProvinceConfig | undefined
  if (f['province-url']) {
    const read = readProvinceCredentials(f['province-credentials'])
    if ('problem' in read) throw new UsageError(read.problem)
    province = { url: f['province-url'], credentials: read.credentials }
  }
  tuneEngine(level, Boolean(f['database-url'])) // before the store compiles its WASM
  const tls: TlsMode = f['insecure-http'] ? 'insecure-http' : f['tls-cert'] ? { certFile: f['tls-cert'], keyFile: f['tls-key']! } : 'self-signed'
  const running = await startNode({
    level, code, name: need(f.name, 'name'), dataDir: need(f.data, 'data'), catalogue: f.catalogue,
    parentUrl: f.parent, token: f.token, databaseUrl: f['database-url'], acceptJournalLoss: f['accept-journal-loss'], signAlg, province,
  }, port, host, { tls, parentFingerprint: f['parent-fingerprint'], publicUrl: f['public-url'] })
  if (running.fingerprint) process.stdout.write(`tongban ${level} ${code} certificate sha256 ${running.fingerprint} (${tls === 'self-signed' ? 'self-signed, in the data dir' : 'from --tls-cert'})\n`)
  else process.stderr.write(`tongban: warning: serving plain http (--insecure-http): only this machine can reach it safely\n`)
  // Ready to stop cleanly before saying so: whoever reads the line may send SIGTERM at once.
  const stopped = new Promise<void>((resolve) => {
    const stop = () => void running.stop().then(resolve, (e) => (console.error('stopping failed:', e), resolve()))
    process.once('SIGINT', stop)
    process.once('SIGTERM', stop)
  })
  process.stdout.write(`tongban ${level} ${code} listening on ${running.url}\n`)
  await stopped
  return 0
}

async function userAdd(args: string[]): Promise<number> {
  const f = parse(args, {
    data: { type: 'string' }, name: { type: 'string' }, role: { type: 'string' }, password: { type: 'string' }, 'database-url': { type: 'string' },
    'display-name': { type: 'string' }, phone: { type: 'string' }, department: { type: 'string' },
  })
  if (f.help) return (process.stdout.write(HELP), 0)
  const dataDir = need(f.data, 'data')
  const input = { name: need(f.name, 'name'), role: need(f.role, 'role'), password: need(f.password, 'password'), displayName: f['display-name'], phone: f.phone, department: f.department }
  const parsed = NewUserSchema.safeParse(input)
  if (!parsed.success) throw new UsageError(parsed.error.issues.map((i) => `--${String(i.path[0] ?? '').replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())}: ${i.message}`).join('; '))
  const u = parsed.data
  const running = readRunningNode(dataDir)
  if (running) {
    // The running node holds the store: hand it the user (its password hashed here) and wait for its answer.
    const file = leaveUserRequest(dataDir, { name: u.name, role: u.role, passwordHash: await hashPassword(u.password), displayName: u.displayName, phone: u.phone, department: u.department })
    const answer = await awaitUserAnswer(file, USER_REQUEST_WAIT_MS)
    if (!answer) throw new UsageError(`the node running in ${dataDir} (pid ${running.pid}) did not take the user within ${USER_REQUEST_WAIT_MS / 1000} s: is it a tongban older than user add while running? Stop it and run this again`)
    if (!answer.ok) throw new UsageError(answer.message)
    process.stdout.write(`user ${u.name} (${u.role}) added to the running ${running.level} ${running.code}\n`)
    return 0
  }
  const meta = await readIdentity(dataDir, f['database-url'])
  const node = await openNode({ ...meta, dataDir, databaseUrl: f['database-url'] })
  try {
    const added = await node.users.add(input)
    process.stdout.write(`user ${added.name} (${added.role}) added to ${meta.level} ${meta.code}\n`)
  } finally {
    await node.close()
  }
  return 0
}

const USER_REQUEST_WAIT_MS = 30_000

/** The node running on `dataDir` now (its lock's owner is alive), or null. */
function readRunningNode(dataDir: string): { pid: number; level: string; code: string } | null {
  const owner = lockOwner(dataDir)
  if (owner === null) return null
  let meta: { level: string; code: string } = { level: 'node', code: '' }
  try {
    meta = JSON.parse(readFileSync(join(dataDir, 'node.json'), 'utf8'))
  } catch {
    // node.json is written at start; without it the identity is only in the locked store.
  }
  return { pid: owner, level: meta.level, code: meta.code }
}

/** The identity a data dir was created with (user add needs no --level/--code). */
async function readIdentity(dataDir: string, databaseUrl?: string): Promise<{ level: Level; code: string; name: string }> {
  const { existsSync, readFileSync } = await import('node:fs')
  const { join } = await import('node:path')
  // node.json is written at every start: reading it spares opening the store twice.
  if (existsSync(join(dataDir, 'node.json'))) return JSON.parse(readFileSync(join(dataDir, 'node.json'), 'utf8'))
  if (!databaseUrl && !existsSync(join(dataDir, 'pgdata'))) throw new UsageError(`${dataDir} holds no node: start one there first with tongban start --data ${dataDir} …`)
  const { openPglite } = await import('../store/pglite.ts')
  const { openPg } = await import('../store/pg.ts')
  const { lockDataDir } = await import('../store/lock.ts')
  const lock = lockDataDir(dataDir)
  const db = databaseUrl ? await openPg(databaseUrl) : await openPglite(join(dataDir, 'pgdata'))
  try {
    const rows = await db.query<{ key: string; value: string }>('SELECT key, value FROM node_meta')
    const m = Object.fromEntries(rows.map((r) => [r.key, r.value]))
    if (!m.code) throw new UsageError(`${dataDir} holds no node identity`)
    return { level: m.level as Level, code: m.code, name: m.name }
  } finally {
    await db.close()
    lock.release()
  }
}

/** What `child add` and `child revoke` work on: this node (from its data dir's node.json, readable while it runs) and the child's code. */
async function childCommand(f: { data?: string; code?: string }): Promise<{ dataDir: string; child: string; self: { code: string; level: string } }> {
  const dataDir = need(f.data, 'data')
  const child = need(f.code, 'code')
  const { existsSync, readFileSync } = await import('node:fs')
  const { join } = await import('node:path')
  const metaFile = join(dataDir, 'node.json')
  if (!existsSync(metaFile)) throw new UsageError(`${dataDir} holds no node: start one there first with tongban start --data ${dataDir} …`)
  return { dataDir, child, self: JSON.parse(readFileSync(metaFile, 'utf8')) as { code: string; level: string } }
}

/** `child revoke`: retires the child's key; the running node cuts its link at once (4401) and publishes the revocation. */
async function childRevoke(args: string[]): Promise<number> {
  const f = parse(args, { data: { type: 'string' }, code: { type: 'string' } })
  if (f.help) return (process.stdout.write(HELP), 0)
  const { dataDir, child, self } = await childCommand(f)
  const { revokeChild } = await import('../link/enrollment.ts')
  try {
    revokeChild(dataDir, self.code, child)
  } catch (e) {
    throw new UsageError((e as Error).message)
  }
  process.stderr.write(`revoked ${child} below ${self.level} ${self.code}: its key is refused from now on; a running node cuts its link now. To enrol a replacement, run tongban child add --code ${child}\n`)
  return 0
}

/** `child rename`: a new name for the child, same code; the running node publishes it. */
async function childRename(args: string[]): Promise<number> {
  const f = parse(args, { data: { type: 'string' }, code: { type: 'string' }, name: { type: 'string' } })
  if (f.help) return (process.stdout.write(HELP), 0)
  const { dataDir, child, self } = await childCommand(f)
  const name = need(f.name, 'name')
  const { renameChild } = await import('../link/enrollment.ts')
  try {
    renameChild(dataDir, self.code, child, name)
  } catch (e) {
    throw new UsageError((e as Error).message)
  }
  process.stderr.write(`renamed ${child} below ${self.level} ${self.code} to ${name}: a running node publishes the new name in the unit directory\n`)
  return 0
}

async function childAdd(args: string[]): Promise<number> {
  const f = parse(args, { data: { type: 'string' }, code: { type: 'string' }, url: { type: 'string' } })
  if (f.help) return (process.stdout.write(HELP), 0)
  const { dataDir, child, self } = await childCommand(f)
  const { enrollChild } = await import('../link/enrollment.ts')
  const { pinToken } = await import('../link/token.ts')
  let token: string
  try {
    // `<secret>#<sha256 of this node's certificate>`: the child pins the certificate it was given.
    token = pinToken(enrollChild(dataDir, self.code, child), dataDir)
  } catch (e) {
    throw new UsageError((e as Error).message)
  }
  process.stdout.write(`${token}\n`)
  process.stderr.write(`enrolled ${child} below ${self.level} ${self.code}; start it with --parent <this node's https URL> --token ${token}\n`)
  if (!token.includes('#')) process.stderr.write(`warning: this node has not served TLS yet (or runs with --insecure-http), so the token pins no certificate\n`)
  return 0
}
