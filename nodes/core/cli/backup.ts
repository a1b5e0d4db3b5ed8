/**
 * `tongban backup` and `tongban restore`: a whole data dir to one file and back (any node), and
 * a village laptop rebuilt from its parent (re-enrolled, its cases pulled back over the link,
 * its own cases opened from the escrow with the recovery code).
 *
 * A backup copies the data dir's files, so the node must be stopped: a running node changes its
 * store under the copy (and PGlite cannot be opened by a second process). It is refused, with
 * the reason, while the node runs. A node whose store is in PostgreSQL (--database-url) keeps
 * only its keys' companions here: back the database up with pg_dump as well, and restore it
 * (pg_restore) before `tongban restore --from FILE --database-url URL`, which gives it a new epoch.
 */
import { createHash } from 'node:crypto'
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { gunzipSync, gzipSync } from 'node:zlib'
import {
  BACKUP_HASH_BYTES, BACKUP_MAGIC, BackupManifestSchema, checkCodeForLevel, levelOfCode, normalizeRecoveryCode,
  type BackupManifest, type Level,
} from '../../../protocol/index.ts'
import { escrowKey } from '../escrow/crypto.ts'
import { restoreEscrow } from '../escrow/restore.ts'
import { parseEnrollmentToken } from '../link/token.ts'
import { ConfigError } from '../node.ts'
import { startNode, type RunningNode } from '../start.ts'
import type { Db, Queryable } from '../store/db.ts'
import { lockDataDir, lockOwner } from '../store/lock.ts'
import { raiseLamportFloor } from '../services/lamport-floor.ts'

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex')
const say = (s: string) => process.stdout.write(`${s}\n`)

function flags<T extends Record<string, { type: 'string' | 'boolean' }>>(args: string[], options: T) {
  return parseArgs({ args, options, strict: true, allowPositionals: false }).values as { [K in keyof T]?: T[K]['type'] extends 'string' ? string : boolean }
}

function need(v: string | undefined, flag: string, cmd: string): string {
  if (!v) throw new ConfigError(`${cmd}: --${flag} is required; try: tongban --help`)
  return v
}

function readNodeJson(dataDir: string): { level: Level; code: string; name: string } | null {
  try {
    return JSON.parse(readFileSync(join(dataDir, 'node.json'), 'utf8'))
  } catch {
    return null
  }
}

function refuseRunning(dataDir: string, what: string): void {
  const pid = lockOwner(dataDir)
  if (pid !== null) throw new ConfigError(`the node in ${dataDir} is running (process ${pid}): stop it first — ${what}`)
}

/** Every regular file under `dir` but the lock, and every directory (relative paths, sorted). */
function listTree(dir: string): { files: string[]; dirs: string[] } {
  const files: string[] = []
  const dirs: string[] = []
  const rel = (p: string) => relative(dir, p).split('\\').join('/')
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name)
      if (e.isDirectory()) {
        dirs.push(rel(p))
        walk(p)
      } else if (e.isFile() && rel(p) !== 'tongban.lock') files.push(rel(p))
    }
  }
  walk(dir)
  return { files: files.sort(), dirs: dirs.sort() }
}

// ---------------------------------------------------------------------------------------------
// tongban backup --data DIR --out FILE

export async function backupCommand(args: string[]): Promise<number> {
  const f = flags(args, { data: { type: 'string' }, out: { type: 'string' } })
  const dataDir = resolve(need(f.data, 'data', 'backup'))
  const out = resolve(need(f.out, 'out', 'backup'))
  const node = readNodeJson(dataDir)
  if (!node) throw new ConfigError(`backup: ${dataDir} holds no node (no node.json): give the data dir a node was started with`)
  if (out.startsWith(dataDir + '/')) throw new ConfigError('backup: --out must be outside the data dir (the backup would contain itself)')
  refuseRunning(dataDir, 'a backup copies the data dir, and a running node changes it under the copy')
  const lock = lockDataDir(dataDir) // no node starts on it while it is copied
  try {
    const { files: names, dirs } = listTree(dataDir)
    const bodies = names.map((n) => readFileSync(join(dataDir, n)))
    const manifest: BackupManifest = {
      format: 1, node, createdAt: new Date().toISOString(), dirs,
      files: names.map((n, i) => ({ path: n, size: bodies[i].length, sha256: sha256(bodies[i]), mode: lstatSync(join(dataDir, n)).mode & 0o777 })),
    }
    const packed = gzipSync(Buffer.concat([Buffer.from(JSON.stringify(manifest) + '\n'), ...bodies]))
    const head = Buffer.concat([Buffer.from(BACKUP_MAGIC), packed])
    const file = Buffer.concat([head, createHash('sha256').update(head).digest()])
    mkdirSync(dirname(out), { recursive: true })
    const tmp = `${out}.${process.pid}.tmp`
    writeFileSync(tmp, file, { mode: 0o600 }) // it holds the node's keys and its people's data
    renameSync(tmp, out)
    const bytes = bodies.reduce((n, b) => n + b.length, 0)
    say(`backed up ${node.level} ${node.code} (${node.name}): ${names.length} files, ${bytes} bytes, to ${out} (${file.length} bytes)`)
    if (!existsSync(join(dataDir, 'pgdata'))) {
      say('note: this node keeps its store in PostgreSQL (--database-url): back the database up with pg_dump too, now, while the node is stopped; ' +
        'to restore, pg_restore it, then tongban restore --data DIR --from FILE --database-url URL')
    }
    return 0
  } finally {
    lock.release()
  }
}

/** Reads and checks a backup file; throws a ConfigError saying what is wrong with it. */
export function readBackup(file: string): { manifest: BackupManifest; bodies: Buffer[] } {
  let raw: Buffer
  try {
    raw = readFileSync(file)
  } catch (e) {
    throw new ConfigError(`restore: cannot read ${file}: ${(e as Error).message}`)
  }
  const damaged = (why: string) => new ConfigError(`restore: ${file} is not a usable backup: ${why}. Nothing was written; use another copy of the backup`)
  if (raw.length < BACKUP_MAGIC.length + BACKUP_HASH_BYTES || raw.subarray(0, BACKUP_MAGIC.length).toString() !== BACKUP_MAGIC) {
    throw damaged('it does not start like a tongban backup (made by `tongban backup`)')
  }
  const head = raw.subarray(0, raw.length - BACKUP_HASH_BYTES)
  if (!createHash('sha256').update(head).digest().equals(raw.subarray(raw.length - BACKUP_HASH_BYTES))) {
    throw damaged('its checksum does not match (the file is damaged or was cut short)')
  }
  let body: Buffer
  try {
    body = gunzipSync(head.subarray(BACKUP_MAGIC.length))
  } catch (e) {
    throw damaged(`it does not unpack (${(e as Error).message})`)
  }
  const nl = body.indexOf(10)
  let manifest: BackupManifest
  try {
    manifest = BackupManifestSchema.parse(JSON.parse(body.subarray(0, nl).toString('utf8')))
  } catch (e) {
    throw damaged(`its list of files is malformed (${(e as Error).message.slice(0, 200)})`)
  }
  const bodies: Buffer[] = []
  let at = nl + 1
  for (const m of manifest.files) {
    const b = body.subarray(at, at + m.size)
    if (b.length !== m.size || sha256(b) !== m.sha256) throw damaged(`${m.path} does not match its checksum`)
    bodies.push(b)
    at += m.size
  }
  if (at !== body.length) throw damaged('it holds bytes its list of files does not account for')
  return { manifest, bodies }
}

const isEmptyDir = (dir: string) => !existsSync(dir) || readdirSync(dir).length === 0

/** `tongban restore --data DIR --from FILE [--force] [--database-url URL]`. */
async function restoreFromFile(f: { data?: string; from?: string; force?: boolean; 'database-url'?: string }): Promise<number> {
  const dataDir = resolve(need(f.data, 'data', 'restore'))
  const { manifest, bodies } = readBackup(resolve(f.from!))
  // A backup without pgdata/ is of a node on PostgreSQL: the file holds its keys, not its store.
  const onPg = !manifest.files.some((m) => m.path.startsWith('pgdata/'))
  const url = f['database-url']
  if (onPg && !url) {
    throw new ConfigError(`restore: ${f.from} is the backup of ${manifest.node.level} ${manifest.node.code}, a node on PostgreSQL: it holds the node's keys and files, not its database. ` +
      'Bring the database back first (pg_restore of the pg_dump made with the backup; or nothing, if the database was not lost), then run again with ' +
      '--database-url URL (that database): the restore gives the store a new epoch and raises its Lamport floor, so its links repair what it lost. Nothing was written')
  }
  if (!onPg && url) throw new ConfigError(`restore: ${f.from} holds an embedded store (pgdata/): --database-url is for the backup of a node on PostgreSQL; leave it out`)
  if (!isEmptyDir(dataDir)) {
    if (!f.force) throw new ConfigError(`restore: ${dataDir} is not empty: give an empty (or new) data dir, or --force to replace what it holds`)
    refuseRunning(dataDir, 'a restore replaces its data dir')
  }
  // PostgreSQL: checked before anything is written (the right node's database, no process on it).
  const pgStore = url ? await openRestoredPg(url, manifest.node.code) : null
  // Unpacked beside the target and swapped in whole: a failure half-way leaves the dir as it was.
  const tmp = `${dataDir}.restoring-${process.pid}`
  try {
    rmSync(tmp, { recursive: true, force: true })
    mkdirSync(tmp, { recursive: true, mode: 0o700 })
    for (const d of manifest.dirs) mkdirSync(join(tmp, d), { recursive: true, mode: 0o700 })
    manifest.files.forEach((m, i) => {
      const p = join(tmp, m.path)
      if (!resolve(p).startsWith(resolve(tmp) + '/')) throw new ConfigError(`restore: ${m.path} would land outside the data dir`)
      mkdirSync(dirname(p), { recursive: true })
      writeFileSync(p, bodies[i])
      chmodSync(p, m.mode)
    })
    if (pgStore) await newEpochIn(pgStore)
    else await newEpoch(tmp)
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true })
    throw e
  } finally {
    await pgStore?.close()
  }
  rmSync(dataDir, { recursive: true, force: true })
  renameSync(tmp, dataDir)
  const { node } = manifest
  say(`restored ${node.level} ${node.code} (${node.name}) into ${dataDir}: ${manifest.files.length} files, as backed up at ${manifest.createdAt}${url ? '; its database (PostgreSQL) takes a new epoch' : ''}`)
  say(`start it as before (tongban start --level ${node.level} --code ${node.code} --name ${node.name} --data ${dataDir}${url ? ' --database-url URL' : ''}); what changed after the backup comes back from its parent and children over the links, where they hold it`)
  return 0
}

/**
 * Opens the PostgreSQL store a restore gives a new epoch: it must hold the backed-up node (a
 * database of another node, or none, is refused) and no other connection — every process of
 * the node stopped (a running one keeps its epoch and floor in memory and would go on with them).
 */
async function openRestoredPg(url: string, code: string): Promise<{ query: Db['query']; close(): Promise<void> }> {
  const { openPg } = await import('../store/pg.ts')
  let db: Db
  try {
    db = await openPg(url)
  } catch (e) {
    throw new ConfigError(`restore: cannot connect to --database-url: ${(e as Error).message}. Nothing was written`)
  }
  try {
    const [held] = await db.query<{ value: string }>(`SELECT value FROM node_meta WHERE key = 'code'`).catch(() => [])
    if (!held) throw new ConfigError(`restore: the database at --database-url holds no node: restore it first (pg_restore of the pg_dump made with the backup), then run again. Nothing was written`)
    if (held.value !== code) throw new ConfigError(`restore: the database at --database-url holds node ${held.value}, not ${code} (the backup's): give that node's database. Nothing was written`)
    const [others] = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()')
    // The pool opens one connection at a time here; any other is another client.
    if (others.n > 0) throw new ConfigError(`restore: ${others.n} other connection(s) to the database at --database-url: stop every process of node ${code} (and any other client of that database) first. Nothing was written`)
    return { query: db.query, close: () => db.close() }
  } catch (e) {
    await db.close()
    throw e
  }
}

async function newEpochIn(db: Queryable): Promise<void> {
  await db.query(`DELETE FROM node_meta WHERE key = 'epoch'`)
  await raiseLamportFloor(db)
}

/**
 * A restored store is an older state than its peers remember: their cursors of it run ahead, so
 * it gets a new epoch (link-frames.ts, "Resuming"), and both ends of each link repair. What it
 * signs from now on counts above the events it lost (services/lamport-floor.ts).
 */
async function newEpoch(dataDir: string): Promise<void> {
  const { openPglite } = await import('../store/pglite.ts')
  const db = await openPglite(join(dataDir, 'pgdata'))
  try {
    await newEpochIn(db)
    await db.checkpoint()
  } finally {
    await db.close()
  }
}

// ---------------------------------------------------------------------------------------------
// tongban restore --parent URL --token T --name NAME --data DIR [--recovery-code CODE]

/** Nothing new for this long after the link is up: the parent has sent what it holds. */
const QUIET_MS = 10_000
const LINK_WAIT_MS = 300_000

async function restoreFromParent(f: { data?: string; parent?: string; token?: string; name?: string; 'recovery-code'?: string }): Promise<number> {
  const dataDir = resolve(need(f.data, 'data', 'restore'))
  const held = readNodeJson(dataDir)
  // Resuming (a wrong recovery code the first time): the dir holds the restored node already.
  const resuming = !!held && !isEmptyDir(dataDir)
  if (!resuming && !isEmptyDir(dataDir)) throw new ConfigError(`restore: ${dataDir} is not empty: restore into a new data dir`)
  if (!resuming && !(f.parent && f.token)) throw new ConfigError('restore: --parent URL and --token T are required: the token from `tongban child add --code <this unit>` on the parent')
  let code: string
  if (f.token) {
    try {
      code = parseEnrollmentToken(f.token).secret.slice(0, 12)
    } catch (e) {
      throw new ConfigError(`restore: --token: ${(e as Error).message}`)
    }
  } else code = held!.code
  const level = levelOfCode(code)
  if (typeof level !== 'string') throw new ConfigError(`restore: the token does not start with a unit code (${level.error}): copy the whole token \`tongban child add\` printed`)
  if (checkCodeForLevel(code, level)) throw new ConfigError(`restore: ${checkCodeForLevel(code, level)}`)
  if (held && held.code !== code) throw new ConfigError(`restore: ${dataDir} holds ${held.level} ${held.code}, not ${code}`)
  const name = f.name ?? held?.name
  if (!name) throw new ConfigError('restore: --name is required: the unit\'s name as before (e.g. 长青村)')
  const recovery = f['recovery-code']
  if (recovery !== undefined && !normalizeRecoveryCode(recovery)) throw new ConfigError('restore: --recovery-code is 24 letters and digits in six groups, as printed at the first start of the lost laptop')
  if (f.parent && !/^https?:\/\/\S+$/.test(f.parent)) throw new ConfigError(`restore: --parent must be an https URL, not "${f.parent}"`)

  say(`restoring ${level} ${code} (${name}) into ${dataDir} from its parent ${f.parent ?? '(remembered)'}…`)
  const running = await startNode({ level, code, name, dataDir, parentUrl: f.parent, token: f.token }, 0, '127.0.0.1', { tls: 'self-signed', recoveryCode: recovery })
  try {
    await untilLinked(running)
    await untilQuiet(running)
    const { node } = running
    const counts = async () => (await node.db.query<{ id: string; origin_code: string; handler_code: string }>('SELECT id, origin_code, handler_code FROM cases'))
    const fromParent = await counts()
    say(`from the parent: ${fromParent.length} cases on this unit's path (taken in here, or to be handled here)`)
    let escrowed = 0
    if (recovery) {
      const r = await restoreEscrow(node, escrowKey(recovery, code))
      if (r.entries && !r.opened) {
        process.stderr.write(`tongban: restore: the recovery code does not open this unit's escrow (${r.entries} sealed entries at the parent): check the code and run again: tongban restore --data ${dataDir} --recovery-code CODE\n`)
        return 2
      }
      escrowed = r.restored.length
      say(`from the escrow: ${escrowed} of this unit's own cases (${r.opened} of ${r.entries} sealed entries opened${r.entries > r.opened ? '; the others were sealed under an earlier recovery code' : ''})`)
      if (!r.entries) say('the parent holds no escrow of this unit: its own cases (those that never left it) cannot be restored')
    } else say('no --recovery-code: this unit\'s own cases (those that never left it) stay sealed at the parent; run again with the code to restore them')
    const [last] = await node.db.query<{ t: string | null }>('SELECT max(updated_at)::text AS t FROM cases WHERE origin_code = $1', [code])
    say(`restored ${fromParent.length + escrowed} cases in all; the newest change restored is from ${last?.t ?? '(none)'}.`)
    say('Not recoverable: whatever the lost laptop took in or changed after its last contact with the parent (it never reached the parent, nor its escrow). Ask the agent about applications taken in just before the loss.')
    say(`users are not kept at the parent: add them again with tongban user add --data ${dataDir} …`)
    say(`start the unit as before: tongban start --level ${level} --code ${code} --name ${name} --data ${dataDir}`)
    return 0
  } finally {
    await running.stop()
  }
}

async function untilLinked(running: RunningNode): Promise<void> {
  const until = Date.now() + LINK_WAIT_MS
  while (Date.now() < until) {
    const s = await running.links.status()
    if (s.parent?.connected) return
    await new Promise((r) => setTimeout(r, 500))
  }
  throw new ConfigError(`restore: no link to the parent within ${LINK_WAIT_MS / 1000} s (see the messages above): is the token new (\`tongban child add\` on the parent), the parent reachable, and did it refuse the link over a quota (its message says when to retry)?`)
}

/** Until nothing new has arrived for QUIET_MS with the link up (the parent's repair pass and stream are through). */
async function untilQuiet(running: RunningNode): Promise<void> {
  let last = -1
  let since = Date.now()
  const until = Date.now() + LINK_WAIT_MS
  while (Date.now() < until) {
    const seq = await running.node.docs.latestSeq()
    if (seq !== last || !(await running.links.status()).parent?.connected) {
      last = seq
      since = Date.now()
    } else if (Date.now() - since >= QUIET_MS) return
    await new Promise((r) => setTimeout(r, 500))
  }
}

export async function restoreCommand(args: string[]): Promise<number> {
  const f = flags(args, {
    data: { type: 'string' }, from: { type: 'string' }, force: { type: 'boolean' }, 'database-url': { type: 'string' },
    parent: { type: 'string' }, token: { type: 'string' }, name: { type: 'string' }, 'recovery-code': { type: 'string' },
  })
  if (f.from && (f.parent || f.token || f['recovery-code'])) throw new ConfigError('restore: --from (a backup file) and --parent/--token/--recovery-code (from the parent) are two ways: choose one')
  if (f.from) return restoreFromFile(f)
  if (f['database-url']) throw new ConfigError('restore: --database-url goes with --from (the backup of a node on PostgreSQL); a village restored from its parent keeps an embedded store')
  return restoreFromParent(f)
}
