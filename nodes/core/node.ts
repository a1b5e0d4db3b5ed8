/**
 * A tongban node: the store, the documents, the services, wired once. Every level runs this;
 * the presets in nodes/<level>/ only choose defaults. I/O at the edges: HTTP is in http/ and
 * server.ts, the CLI in cli/.
 */
import { existsSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { checkCodeForLevel, codeAtLevel, parentCode, WorkingDays, type Calendar, type Level, type SigAlg } from '../../protocol/index.ts'
import { DocStore } from './docs/doc-store.ts'
import { appendEntry, DIRECTORY_DOC, readEntries } from './docs/directory-doc.ts'
import { readEnrollments } from './link/enrollment.ts'
import { loadOrCreateKeys } from './trust/keys.ts'
import { loadEventsBoundSince, loadPins, Trust } from './trust/trust.ts'
import { makeProjector } from './docs/projection.ts'
import { CaseService } from './services/cases.ts'
import { purgeRequestKeys } from './services/request-keys.ts'
import { CatalogueService } from './services/catalogue.ts'
import { StatsService } from './services/stats.ts'
import { UserService } from './services/users.ts'
import { StatsPublisher } from './stats/publisher.ts'
import { startCaseCompaction } from './docs/compact-cases.ts'
import { SupervisionService } from './supervision/service.ts'
import type { Db } from './store/db.ts'
import { Journal, type JournalIo } from './store/journal.ts'
import { lockDataDir } from './store/lock.ts'
import { migrate } from './store/migrate.ts'
import { openPglite } from './store/pglite.ts'
import { provinceConfigProblem, type ProvinceConfig } from './province/config.ts'
import { ProvinceExchange } from './province/exchange.ts'
import { ProgressLookup } from './services/progress.ts'
import { startSpan } from './start-trace.ts'

export const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
export const SAMPLE_CATALOGUE = join(PROJECT_ROOT, 'catalogue/sample.json')

export interface NodeConfig {
  level: Level
  code: string
  name: string
  /** Holds the store (PGlite), the journal and the lock. */
  dataDir: string
  /** `sample`, or a path to a catalogue JSON file, seeded into an empty catalogue. */
  catalogue?: string
  /** Use PostgreSQL at this URL instead of the embedded store. */
  databaseUrl?: string
  parentUrl?: string
  token?: string
  /** How often the embedded store is checkpointed (and the journal dropped). */
  checkpointMs?: number
  /** A template data dir (from PGlite's dumpDataDir) to start a new store from, for tests. */
  loadDataDir?: Blob
  /** Start even though the journal has damaged records that good ones follow (they are logged and kept aside). */
  acceptJournalLoss?: boolean
  /** The journal's file operations (tests inject a full disk). */
  journalIo?: JournalIo
  now?: () => Date
  /** The signing algorithm of the key made at first start (never changes afterwards). */
  signAlg?: SigAlg
  /** Push 办件信息 and 好差评 to the provincial platform (city or county only; docs/province-api.md). */
  province?: ProvinceConfig
}

export class ConfigError extends Error {}

export interface TongbanNode {
  config: NodeConfig
  db: Db
  docs: DocStore
  catalogue: CatalogueService
  cases: CaseService
  stats: StatsService
  users: UserService
  /** 电子监察 and 督办: the supervisor's warnings list, notices and replies. */
  supervision: SupervisionService
  /** 办件进度查询: from this store, or asked of the child on the way down to the case's window. */
  progress: ProgressLookup
  /** This node's key, the pinned root and parent, and the unit directory resolved from them. */
  trust: Trust
  days(): WorkingDays
  parent: string | null
  /** The provincial platform exchange, when this node pushes (`--province-url`). */
  province: ProvinceExchange | null
  close(): Promise<void>
}

/** Opens (creating on first start) the node's store and services. */
export async function openNode(config: NodeConfig): Promise<TongbanNode> {
  const bad = checkCodeForLevel(config.code, config.level)
  if (bad) throw new ConfigError(bad)
  const provinceBad = config.province && provinceConfigProblem(config.province, config.level)
  if (provinceBad) throw new ConfigError(provinceBad)
  mkdirSync(config.dataDir, { recursive: true })
  const lock = lockDataDir(config.dataDir)
  let db: Db | null = null
  let timer: NodeJS.Timeout | null = null
  try {
    // pg is loaded only when used: a village never needs it, and every start pays for imports.
    db = config.databaseUrl ? await (await import('./store/pg.ts')).openPg(config.databaseUrl) : await openPglite(join(config.dataDir, 'pgdata'), { loadDataDir: config.loadDataDir })
    startSpan('open the store')
    await migrate(db)
    startSpan('migrations')
    await checkIdentity(db, config)
    // Readable without opening the store (the store is locked while the node runs).
    writeFileSync(join(config.dataDir, 'node.json'), JSON.stringify({ level: config.level, code: config.code, name: config.name }, null, 2))
    const journal = db.kind === 'pglite' ? new Journal(config.dataDir, config.journalIo) : null
    let days = new WorkingDays(await loadCalendars(db))
    const keys = await loadOrCreateKeys(db, config.signAlg)
    if (config.signAlg && config.signAlg !== keys.alg) console.error(`note: this node's key is ${keys.alg} (made at its first start); --sign-alg ${config.signAlg} is ignored`)
    const trust = new Trust({ code: config.code, name: config.name }, keys, await loadPins(db), await loadEventsBoundSince(db))
    startSpan('identity, journal, calendars, keys, pins')
    const now = config.now ?? clockFromEnv()
    const province = config.province ? new ProvinceExchange(db, config.province, { code: config.code, name: config.name }, now) : null
    const docs = new DocStore(db, journal, makeProjector({
      days: () => days, onCalendars: (c) => (days = new WorkingDays(c)), trust: () => trust,
      onCase: province ? (app, f, route, tx) => province.onCase(app, f, route, tx) : undefined,
    }))
    const self = { code: config.code, level: config.level }
    const refreshDays = () => days
    const catalogue = new CatalogueService(db, docs, self)
    const stats = new StatsService(db, { code: config.code, name: config.name }, refreshDays, now)
    const publisher = new StatsPublisher(db, docs, stats, { code: config.code, name: config.name })
    const supervision = new SupervisionService(db, docs, trust, refreshDays, { code: config.code, name: config.name }, now)
    const cases = new CaseService(db, docs, catalogue, self, refreshDays, trust, now)
    let compactor: { stop(): Promise<void> } | null = null
    const node: TongbanNode = {
      config, db, docs, catalogue, stats, trust, cases,
      progress: new ProgressLookup({ config, cases, catalogue, stats, trust }),
      users: new UserService(db, now),
      supervision,
      days: refreshDays,
      parent: parentCode(config.code),
      province,
      async close() {
        if (timer) clearInterval(timer)
        await province?.stop()
        await compactor?.stop()
        await publisher.close()
        await supervision.watcher.close()
        if (journal) {
          await journal.checkpoint(() => db!.checkpoint())
          journal.close()
        }
        await db!.close()
        lock.release()
      },
    }
    trust.setChildren(readEnrollments(config.dataDir))
    trust.setEntries(readEntries(await docs.get(DIRECTORY_DOC)))
    startSpan('services, unit directory')
    if (journal) await recover(node, journal)
    startSpan('journal replay')
    if (db.kind === 'pg') {
      // Several processes on one PostgreSQL hear each other's writes (doc-store.ts). The unit
      // directory another process changed (a child enrolled there) is read again here, so the
      // keys it vouches for verify here too; this process's own changes were read by its projection.
      docs.on('update', (u) => {
        if (u.docId === DIRECTORY_DOC) void docs.get(DIRECTORY_DOC).then((d) => trust.setEntries(readEntries(d)), (e) => console.error(`reading the unit directory again failed: ${(e as Error).message}`))
      })
      await docs.hearOtherProcesses()
    }
    if (config.level === 'city' || !(await hasParent(node))) await pinSelfAsRoot(node)
    await node.cases.realignSequence()
    startSpan('case numbers realigned')
    await purgeRequestKeys(db)
    await seedCatalogue(node)
    await seedUsers(node)
    startSpan('request keys, catalogue, users')
    publisher.schedule(true)
    await supervision.watcher.start()
    startSpan('supervision first pass')
    province?.start()
    // Bounded growth: closed cases past the retention setting are merged to one stored update.
    compactor = startCaseCompaction(db, now, (line) => console.log(`[${config.code}] ${line}`))
    if (journal) {
      timer = setInterval(() => void journal.checkpoint(() => db!.checkpoint()).catch((e) => console.error('checkpoint failed:', e)), config.checkpointMs ?? 30_000)
      timer.unref()
    }
    return node
  } catch (e) {
    if (timer) clearInterval(timer)
    await db?.close().catch(() => {})
    lock.release()
    throw e
  }
}

/**
 * The node's clock. TONGBAN_CLOCK_OFFSET_DAYS runs it that many days ahead (or behind): a
 * demonstration or a test of real node processes shows a case turning overdue (电子监察)
 * without waiting for the days to pass. Unset in production.
 */
function clockFromEnv(): () => Date {
  const days = Number(process.env.TONGBAN_CLOCK_OFFSET_DAYS ?? 0)
  if (!Number.isFinite(days) || days === 0) return () => new Date()
  console.error(`note: TONGBAN_CLOCK_OFFSET_DAYS=${days}: this node's clock runs ${days} days off the real time`)
  return () => new Date(Date.now() + days * 86_400_000)
}

/** A data dir belongs to one node for life: refuse to start it as another. */
async function checkIdentity(db: Db, c: NodeConfig): Promise<void> {
  const rows = await db.query<{ key: string; value: string }>('SELECT key, value FROM node_meta')
  const meta = Object.fromEntries(rows.map((r) => [r.key, r.value]))
  if (meta.code && (meta.code !== c.code || meta.level !== c.level)) {
    throw new ConfigError(`this data dir belongs to ${meta.level} ${meta.code} (${meta.name}); it cannot be started as ${c.level} ${c.code}`)
  }
  if (meta.code === c.code && meta.level === c.level && meta.name === c.name) return // a restart: nothing to write
  // One statement: another process sharing a PostgreSQL store never reads half an identity.
  await db.query(
    `INSERT INTO node_meta (key, value) VALUES ('code', $1), ('level', $2), ('name', $3)
     ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`,
    [c.code, c.level, c.name],
  )
}

/**
 * The city is the root of trust: it pins its own key and vouches for itself in the directory,
 * once. Every other node pins the city's key when it enrolls (through its parent's answer). A
 * node run with no parent at all (a county before its city is up, a test tree) is the root of
 * its own tree the same way, until it enrolls under a parent and pins that tree's root instead.
 */
/** Has this node a parent to link to (given now, or remembered from an earlier start)? */
async function hasParent(node: TongbanNode): Promise<boolean> {
  if (node.config.parentUrl) return true
  return (await node.db.query(`SELECT 1 FROM node_meta WHERE key = 'parent_url'`)).length > 0
}

async function pinSelfAsRoot(node: TongbanNode): Promise<void> {
  const { trust, config } = node
  const self = { code: config.code, alg: trust.keys.alg, publicKey: trust.keys.publicKey }
  if (!trust.rootKey) {
    await node.db.query(`INSERT INTO node_meta (key, value) VALUES ('root_key', $1) ON CONFLICT (key) DO NOTHING`, [JSON.stringify(self)])
    trust.pin({ root: self, parent: self, chain: [] })
    trust.parentKey = null
  }
  // The self-vouched entry names the root in the directory; only the city's is well-formed (a
  // unit is vouched for by its parent): a parentless county is known to its tree by the pin.
  if (config.level !== 'city') return
  const held = readEntries(await node.docs.get(DIRECTORY_DOC)).some((e) => e.code === self.code && e.publicKey === self.publicKey)
  if (!held) {
    const entry = trust.vouch({ ...self, name: config.name }, 'active', 1, new Date().toISOString())
    await node.docs.change(DIRECTORY_DOC, (doc) => appendEntry(doc, entry))
  }
}

/**
 * The start refused: the journal holds bad bytes that good records follow, so they were on disk
 * when a later reply was sent and may have held an acknowledged change.
 */
export class JournalLossError extends ConfigError {}

/**
 * Replays what the journal holds that the store may have lost in a power cut; idempotent.
 *
 * What is right when the journal is damaged (decided here, for issue 7 class 8):
 * - Every good record is replayed, including those after a bad one (the framing resyncs).
 * - A torn tail (bad bytes with no good record after them) is the write a crash interrupted:
 *   its sync never returned, so nothing in it was acknowledged. It is cut off and logged.
 * - Bad bytes *followed by* good records were synced with them, so they may have held a change
 *   a reply acknowledged: a case, an approval. Which change, the bad bytes cannot say for sure
 *   (a legible document id is only a hint), and the store is no proof either way — PGlite never
 *   fsyncs, so the store holding the document does not mean it holds that update. So the node
 *   refuses to start and names what it skipped, rather than run on with a hole nobody was told
 *   of. An operator who has checked (the listed documents at this node or at its parent, which
 *   holds every case that left the village) restarts with `--accept-journal-loss`: the good
 *   records are replayed, the skipped bytes are logged again, and the damaged files are kept
 *   beside the journal (`journal.N.damaged-<time>`) before it is reset.
 */
async function recover(node: TongbanNode, journal: Journal): Promise<void> {
  for (const d of journal.cut) {
    console.warn(`[${node.config.code}] journal: cut ${d.length} torn bytes at the end of ${d.file} (offset ${d.offset}, ${d.reason}): a write a crash interrupted, never acknowledged`)
  }
  const { records, damage } = journal.scan()
  const skipped = damage.filter((d) => d.followedByGood)
  if (skipped.length) {
    const lines: string[] = []
    for (const d of skipped) {
      let what = 'its document id is not legible'
      if (d.docId) {
        const held = await node.docs.has(d.docId).catch(() => false)
        what = `it seems to hold an update of ${d.docId}, which the store ${held ? 'holds (the lost update may be a later change to it)' : 'does NOT hold'}`
      }
      lines.push(`  ${d.file} bytes ${d.offset}–${d.offset + d.length - 1} (${d.length} bytes, ${d.reason}): ${what}`)
    }
    const head = `the journal in ${node.config.dataDir} has ${skipped.length} damaged record${skipped.length > 1 ? 's' : ''} followed by good ones; ` +
      `what ${skipped.length > 1 ? 'they' : 'it'} held may be an acknowledged change the store lost in a power cut:\n${lines.join('\n')}\n`
    if (!node.config.acceptJournalLoss) {
      journal.close()
      throw new JournalLossError(head +
        `  The ${records.length} good records are kept. Check those documents (here, or at the parent), then start with --accept-journal-loss ` +
        'to replay the good records and go on without the damaged ones.')
    }
    const kept = journal.preserve(new Date().toISOString().replace(/[:.]/g, '-'))
    console.error(`[${node.config.code}] ${head}  Going on without them (--accept-journal-loss); ${records.length} good records replayed; the damaged journal is kept as ${kept.join(', ')}`)
  }
  // One transaction for the whole replay, through the same path as updates from a link.
  if (records.length) await node.docs.applyBatch(records, 'replay')
  if (records.length || skipped.length) await journal.reset(() => node.db.checkpoint())
}

async function loadCalendars(db: Db): Promise<Calendar[]> {
  return (await db.query<{ body: Calendar }>('SELECT body FROM calendars')).map((r) => r.body)
}

/** Seeds an empty catalogue from `--catalogue` (the city has the sample by default). */
async function seedCatalogue(node: TongbanNode): Promise<void> {
  const { catalogue: source, level, code } = node.config
  const path = source === 'sample' || (!source && level === 'city') ? SAMPLE_CATALOGUE : source
  if (!path) return
  const [{ n }] = await node.db.query<{ n: number }>('SELECT count(*)::int AS n FROM catalogue_items')
  if (n > 0) return
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (e) {
    throw new ConfigError(`cannot read the catalogue file ${path}: ${(e as Error).message}`)
  }
  // Seeded as the city's catalogue: the scope every node of this city reads.
  await new CatalogueService(node.db, node.docs, { code: codeAtLevel(code, 'city'), level }).import(text, 'json')
}

/**
 * Users provisioned with the data dir (the demo writes them before a node's first start):
 * `<data>/users.seed.json` = [{name, role, password}]. Added if missing, then the file is
 * deleted so no password stays on disk.
 */
async function seedUsers(node: TongbanNode): Promise<void> {
  const path = join(node.config.dataDir, 'users.seed.json')
  if (!existsSync(path)) return
  const list = JSON.parse(readFileSync(path, 'utf8')) as unknown[]
  const have = new Set((await node.users.list()).map((u) => u.name))
  for (const u of list) {
    if (!have.has((u as { name: string }).name)) await node.users.add(u)
  }
  unlinkSync(path)
}
