/** Starts a whole node: store, app (with its preset), links, live views, and the HTTP server. */
import { Hono } from 'hono'
import { createApp } from './http/app.ts'
import type { AppEnv } from './http/env.ts'
import { linkRoutes } from './link/link-routes.ts'
import { Links } from './link/links.ts'
import { upgradeRouter } from './link/upgrade.ts'
import { warmCheck } from './link/warm-check.ts'
import { LiveViews } from './live/live-view.ts'
import { EscrowWriter, loadEscrowKey } from './escrow/writer.ts'
import { Outbox } from './link/outbox.ts'
import { LinkStats } from './link/status.ts'
import { RecentFigures } from './link/recent.ts'
import { watchUserRequests } from './services/user-requests.ts'
import { parseEnrollmentToken } from './link/token.ts'
import { ConfigError, openNode, type NodeConfig, type TongbanNode } from './node.ts'
import { PRESETS } from './presets.ts'
import { startSpan } from './start-trace.ts'
import { listen, type Served } from './server.ts'
import { checkCertificateFiles, checkParentUrl, clearServingCertificate, isLoopback, loadOrCreateCertificate, normalizeFingerprint, type ServingCert, type TlsMode } from './tls.ts'

export interface RunningNode {
  node: TongbanNode
  links: Links
  url: string
  port: number
  /** SHA-256 of the certificate served with (64 hex digits), or null on plain http. */
  fingerprint: string | null
  /** A village's escrow writer (escrow/writer.ts), or null. */
  escrow: EscrowWriter | null
  /** The link's check has run once on a made-up case (link/warm-check.ts); never rejects. */
  checkWarmed: Promise<void>
  stop(): Promise<void>
}

export interface StartTransport {
  /** How to serve (default 'insecure-http': plain http, loopback only — what in-process tests use). */
  tls?: TlsMode
  /** Pins the parent's certificate (a new certificate at the parent, or a token without a pin). */
  parentFingerprint?: string
  /**
   * The address applicants reach the progress lookup at (printed on receipts instead of the
   * address the window happens to use); remembered in the store, so a restart needs no flag.
   */
  publicUrl?: string
  /** A village restored on a new laptop: its escrow key comes from this recovery code (escrow/). */
  recoveryCode?: string
}

export async function startNode(flags: NodeConfig, port = 0, host = '127.0.0.1', transport: StartTransport = {}): Promise<RunningNode> {
  startSpan('modules loaded')
  const preset = PRESETS[flags.level]
  const config = { ...preset.defaults, ...stripUndefined(flags) } as NodeConfig
  const tlsMode = transport.tls ?? 'insecure-http'
  if (tlsMode === 'insecure-http' && !isLoopback(host)) {
    throw new ConfigError(`refusing to listen on ${host} without TLS: logins and cases would cross the network in clear text; drop --insecure-http (a self-signed certificate is made in the data dir) or give --tls-cert/--tls-key`)
  }
  if (config.parentUrl) {
    const bad = checkParentUrl(config.parentUrl)
    if (bad) throw new ConfigError(bad)
  }
  const pinFlag = transport.parentFingerprint === undefined ? undefined : normalizeFingerprint(transport.parentFingerprint)
  if (pinFlag === null) throw new ConfigError(`--parent-fingerprint must be a SHA-256 fingerprint (64 hex digits, colons allowed), not "${transport.parentFingerprint}"`)
  if (config.token) {
    try {
      parseEnrollmentToken(config.token)
    } catch (e) {
      throw new ConfigError(`--token: ${(e as Error).message}`)
    }
  }
  if (typeof tlsMode === 'object') checkCertificateFiles(tlsMode) // before the store: a typo costs no first start
  const node = await openNode(config)
  let cert: ServingCert | null = null
  let parent: Awaited<ReturnType<typeof parentOf>>
  let fingerprint: string | null = null
  try {
    if (tlsMode === 'insecure-http') clearServingCertificate(config.dataDir)
    else cert = await loadOrCreateCertificate(config.dataDir, config.code, tlsMode)
    parent = await parentOf(node)
    if (parent) {
      const bad = checkParentUrl(parent.url)
      if (bad) throw new ConfigError(`the remembered parent: ${bad}`)
      fingerprint = await parentPin(node, pinFlag)
    }
  } catch (e) {
    await node.close()
    throw e
  }
  let publicUrl: string | null
  let escrow: EscrowWriter | null = null
  try {
    publicUrl = await rememberPublicUrl(node, transport.publicUrl)
    escrow = await startEscrow(node, !!parent, transport.recoveryCode)
    startSpan('parent, certificate, public URL, escrow')
  } catch (e) {
    await node.close()
    throw e
  }
  const links = new Links(node, parent && { ...parent, fingerprint })
  const stopUserRequests = watchUserRequests(config.dataDir, node.users, (line) => console.log(`[${config.code}] ${line}`))
  // The cases whose updates have not all reached the parent yet (a village's "not yet sent").
  const waitingCases = async () => (parent && node.parent ? new Outbox(node.db, node.parent, false).waitingCases((await new LinkStats(node.db).cursor(node.parent)).acked) : [])
  const waitingMore = async () => (parent && node.parent ? new Outbox(node.db, node.parent, false).backlogBeyondScan((await new LinkStats(node.db).cursor(node.parent)).acked) : false)
  const healthFigures = new RecentFigures<{ parent: { waitingCases: number; waitingMore: boolean } | null; sealing: object; province: object }>()
  node.docs.on('update', () => healthFigures.changed())
  links.stats.whenAcked(() => healthFigures.changed())
  const live = new LiveViews(node)
  const upgrade = upgradeRouter(links, live)
  let served: Served
  try {
    const app = createApp(node, {
      extend: (a) => {
        a.route('/api/sync', new Hono<AppEnv>()
          .get('/', async (c) => c.json(await links.status()))
          .get('/waiting', async (c) => c.json({ cases: await waitingCases() })))
        a.route('/link', linkRoutes(links.auth))
        preset.extend?.(a)
      },
      health: async () => {
        const sync = await links.summary()
        // Counted at most about once a second, and again after any change (link/recent.ts): the UI banner polls this.
        const counted = await healthFigures.get('', async () => ({
          // waitingMore: the backlog is longer than a count looks at (outbox.ts BACKLOG_SCAN): the figure is a lower bound.
          parent: sync.parent ? { waitingCases: (await waitingCases()).length, waitingMore: await waitingMore() } : null,
          // A village's escrow: case updates not yet sealed for the parent (they go up with the link's waiting).
          sealing: escrow ? { escrow: { pending: await escrow.pending() } } : {},
          province: node.province ? { province: await node.province.health() } : {},
        }))
        if (sync.parent && counted.parent) Object.assign(sync.parent, counted.parent)
        return { sync, publicUrl, ...counted.province, ...counted.sealing }
      },
    })
    served = await listen(app, port, host, upgrade, cert ?? undefined)
    startSpan('HTTP listening')
  } catch (e) {
    await escrow?.close()
    await node.close()
    throw e
  }
  links.start()
  // The link's check on a made-up case, in the background (link/warm-check.ts): a child's
  // first frame no longer pays for the check's first run. Nothing is stored.
  const checkWarmed = new Promise<void>((resolve) => setImmediate(() => {
    warmCheck(node.trust, node.docs)
      .then((why) => why && console.error(`[${config.code}] warming the link's check up: the made-up case was refused (${why}); no harm done`))
      .catch((e) => console.error(`[${config.code}] warming the link's check up failed (no harm done): ${(e as Error)?.message ?? String(e)}`))
      .finally(resolve)
  }))
  let stopping: Promise<void> | null = null
  return {
    node, links, url: served.url, port: served.port, fingerprint: cert?.fingerprint ?? null, escrow, checkWarmed,
    stop: () => (stopping ??= (async () => {
      stopUserRequests()
      await escrow?.close()
      await links.stop()
      live.close()
      upgrade.close()
      await served.close()
      await node.close()
    })()),
  }
}

/**
 * A village with a parent escrows its own cases (escrow/writer.ts). At its first start it makes
 * the recovery code and shows it, once: the key stays on the laptop, the code with the
 * administrator, and only the two together with the parent's copy bring the cases back.
 */
async function startEscrow(node: TongbanNode, linked: boolean, recoveryCode: string | undefined): Promise<EscrowWriter | null> {
  if (node.config.level !== 'village' || !linked || !node.parent) return null
  const { key, newCode } = await loadEscrowKey(node, recoveryCode)
  if (newCode) {
    process.stdout.write(`tongban village ${node.config.code} recovery code ${newCode}\n`)
    process.stderr.write(`  Write the recovery code down and keep it away from this laptop: the village's own cases (即办件, which never leave it) are\n` +
      `  copied to the parent sealed with it. If the laptop is lost or broken, \`tongban restore --parent URL --token T --recovery-code CODE\`\n` +
      `  on a new one brings them back. It is not shown again.\n`)
  }
  const writer = new EscrowWriter(node, key, (m) => console.error(`[${node.config.code}] ${m}`))
  writer.start()
  return writer
}

/** Checks and stores `--public-url` when given; answers the remembered one (or null). */
async function rememberPublicUrl(node: TongbanNode, flag: string | undefined): Promise<string | null> {
  if (flag !== undefined) {
    const bad = publicUrlProblem(flag)
    if (bad) throw new ConfigError(`--public-url: ${bad}`)
    const url = flag.replace(/\/+$/, '')
    await node.db.query(`INSERT INTO node_meta (key, value) VALUES ('public_url', $1) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`, [url])
    return url
  }
  const [row] = await node.db.query<{ value: string }>(`SELECT value FROM node_meta WHERE key = 'public_url'`)
  return row?.value ?? null
}

/** Why `url` cannot be printed for applicants, or null: an http(s) URL of a host other than this machine. */
export function publicUrlProblem(url: string): string | null {
  let u: URL
  try {
    u = new URL(url)
  } catch {
    return `"${url}" is not a URL (e.g. https://zwfw.nanchong.gov.cn)`
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') return `"${url}" must be an http(s) URL`
  if (isLoopback(u.hostname)) return `"${url}" is this machine's loopback address: applicants cannot reach it`
  if (u.search || u.hash) return `"${url}" must not carry a query or a fragment`
  return null
}

/**
 * The parent link: from --parent/--token on first start, remembered in the store so a restart
 * needs no flags; new flags replace the remembered ones. The token is kept only until it has
 * been exchanged for the registration of this node's key (link-auth.ts), then deleted.
 */
async function parentOf(node: TongbanNode): Promise<{ url: string; token: string } | null> {
  const { parentUrl, token } = node.config
  const save = (key: string, value: string) => node.db.query('INSERT INTO node_meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value', [key, value])
  if (parentUrl) await save('parent_url', parentUrl)
  if (parentUrl && token) await save('parent_token', token)
  const [row] = await node.db.query<{ value: string }>(`SELECT value FROM node_meta WHERE key = 'parent_url'`)
  return row ? { url: row.value, token: token ?? '' } : null
}

/**
 * The parent's certificate fingerprint this node pins: from --parent-fingerprint, else from the
 * token given now (`<secret>#<fingerprint>`), else the one remembered in node_meta — so a
 * restart needs no flags. A new token without a pin forgets the old pin (the parent then needs a
 * certificate a system CA vouches for).
 */
async function parentPin(node: TongbanNode, flag: string | undefined): Promise<string | null> {
  const fromToken = node.config.token ? parseEnrollmentToken(node.config.token).fingerprint : undefined
  const given = flag ?? fromToken
  if (given !== undefined) {
    if (given) await node.db.query('INSERT INTO node_meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value', ['parent_fingerprint', given])
    else await node.db.query(`DELETE FROM node_meta WHERE key = 'parent_fingerprint'`)
    return given
  }
  const rows = await node.db.query<{ value: string }>(`SELECT value FROM node_meta WHERE key = 'parent_fingerprint'`)
  return rows[0]?.value ? normalizeFingerprint(rows[0].value) : null
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>
}
