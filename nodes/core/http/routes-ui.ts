/**
 * The web UI, served by the node itself: plain browser modules and CSS from nodes/core/ui/,
 * Apache ECharts from node_modules, and two modules the node bundles on first request — the
 * pure protocol/ (so the browser decides with the same `mayAct`, state machine and working-day
 * calendar as the server) and the y-websocket client for the live case view. Nothing comes from
 * a CDN: a village laptop with no internet still gets every byte from its own node.
 */
import { createHash } from 'node:crypto'
import { readFile, stat } from 'node:fs/promises'
import { extname, join, normalize, sep } from 'node:path'
import { gzipSync } from 'node:zlib'
import type { BuildOptions } from 'esbuild'
import { Hono, type Context } from 'hono'
import { isFresh, UI_DIST } from '../../../scripts/bundle.mjs'
import UI_BUNDLES from './ui-bundles.json' with { type: 'json' }
import type { AppEnv } from './env.ts'
import { PROJECT_ROOT } from '../node.ts'

const UI_DIR = join(PROJECT_ROOT, 'nodes/core/ui')
const ECHARTS = join(PROJECT_ROOT, 'node_modules/echarts/dist/echarts.min.js')

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
  '.woff2': 'font/woff2',
}

/**
 * The page may run only its own scripts and talk only to its own node: even if some user data
 * slipped into markup, no injected script would run.
 */
const CSP = [
  "default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data: blob:",
  "connect-src 'self' ws: wss:", "font-src 'self'", "object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'", "form-action 'self'",
].join('; ')

interface Asset {
  body: Uint8Array<ArrayBuffer>
  etag: string
  type: string
  /** The body gzipped, made on first request: ECharts is 1 MB, 330 KB gzipped, for a county on a slow line. */
  gz?: Uint8Array<ArrayBuffer>
}

/** Files read once per change (mtime and size), so editing the UI needs no restart. */
const fileCache = new Map<string, { mtimeMs: number; size: number; asset: Asset }>()

async function fileAsset(path: string): Promise<Asset | null> {
  let st
  try {
    st = await stat(path)
  } catch {
    return null
  }
  if (!st.isFile()) return null
  const hit = fileCache.get(path)
  if (hit && hit.mtimeMs === st.mtimeMs && hit.size === st.size) return hit.asset
  const body = new Uint8Array(await readFile(path))
  const asset = { body, etag: etagOf(body), type: TYPES[extname(path)] ?? 'application/octet-stream' }
  fileCache.set(path, { mtimeMs: st.mtimeMs, size: st.size, asset })
  return asset
}

const etagOf = (body: Uint8Array) => `"${createHash('sha1').update(body).digest('base64url').slice(0, 20)}"`

/**
 * The modules the node bundles from TypeScript and npm modules, once per process (ui-bundles.json:
 * the parts of protocol/ a page uses, not the link's frames, which only nodes speak; the live
 * view's y-websocket client). Read from dist/ui/ when scripts/bundle.mjs built them from the
 * sources as they are now (a node run from its bundle then starts no esbuild service), else built
 * here.
 */
const BUNDLES: Record<string, { contents: string; loader: 'ts' | 'js' }> = UI_BUNDLES.bundles as never
const bundles = new Map<string, Promise<Asset>>()

async function makeBundle(name: string, spec: { contents: string; loader: 'ts' | 'js' }): Promise<Asset> {
  let body = isFresh() ? await readFile(join(UI_DIST, name)).then((b) => new Uint8Array(b), () => null) : null
  if (!body) {
    const { build } = await import('esbuild') // bundling takes tens of ms
    const out = await build({
      ...(UI_BUNDLES.options as BuildOptions),
      stdin: { contents: spec.contents, resolveDir: PROJECT_ROOT, loader: spec.loader, sourcefile: `ui-${name}` }, write: false,
    })
    body = new Uint8Array(out.outputFiles![0].contents)
  }
  return { body, etag: etagOf(body), type: TYPES['.js'] }
}

function bundle(name: string): Promise<Asset> | null {
  const spec = BUNDLES[name]
  if (!spec) return null
  let p = bundles.get(name)
  if (!p) {
    p = makeBundle(name, spec)
    p.catch(() => bundles.delete(name)) // let a later request try again
    bundles.set(name, p)
  }
  return p
}

/**
 * Sends an asset with its ETag. `no-cache` still lets the browser keep it, but it asks the node
 * each time (a 304 costs nothing on a local node) so a changed UI is never stale.
 */
function send(c: Context, a: Asset, cache = 'no-cache'): Response {
  const headers: Record<string, string> = {
    'content-type': a.type, etag: a.etag, 'cache-control': cache, 'x-content-type-options': 'nosniff', vary: 'accept-encoding',
  }
  if (a.type.startsWith('text/html')) {
    headers['content-security-policy'] = CSP
    headers['referrer-policy'] = 'no-referrer'
  }
  if (c.req.header('if-none-match') === a.etag) return new Response(null, { status: 304, headers })
  let body = a.body
  if (a.body.length > 1024 && /\bgzip\b/.test(c.req.header('accept-encoding') ?? '') && !a.type.startsWith('image/png')) {
    a.gz ??= new Uint8Array(gzipSync(a.body))
    body = a.gz
    headers['content-encoding'] = 'gzip'
  }
  headers['content-length'] = String(body.length)
  return new Response(c.req.method === 'HEAD' ? null : body, { status: 200, headers })
}

const notFound = (c: Context) => c.json({ error: { code: 'not_found', message: `no UI file ${c.req.path}` } }, 404)

export const uiRoutes = new Hono<AppEnv>()
  .get('/', async (c) => send(c, (await fileAsset(join(UI_DIR, 'index.html')))!))
  .get('/ui/vendor/echarts.min.js', async (c) => {
    const a = await fileAsset(ECHARTS)
    return a ? send(c, a, 'public, max-age=86400') : notFound(c)
  })
  .get('/ui/gen/:name', async (c) => {
    const p = bundle(c.req.param('name'))
    return p ? send(c, await p) : notFound(c)
  })
  .get('/ui/*', async (c) => {
    let rel: string
    try {
      rel = decodeURIComponent(c.req.path.slice('/ui/'.length))
    } catch {
      return notFound(c)
    }
    const path = normalize(join(UI_DIR, rel))
    // Only files under ui/, of a type we serve, never a dotfile.
    if (!path.startsWith(UI_DIR + sep) || !TYPES[extname(path)] || /(^|[\\/])\./.test(rel)) return notFound(c)
    const a = await fileAsset(path)
    return a ? send(c, a) : notFound(c)
  })
