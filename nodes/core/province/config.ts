/**
 * How a node pushes to the province (docs/province-api.md): the base URL, the credentials, and
 * the pusher's bounds. Only the city or a county pushes, and only when started with
 * `--province-url`: which node pushes is configuration, never a default.
 */
import { readFileSync } from 'node:fs'
import { ProvinceCredentialsSchema, PROVINCE_MAX_BATCH, type Level, type ProvinceCredentials } from '../../../protocol/index.ts'
import { isLoopback } from '../tls.ts'

export interface ProvinceConfig {
  /** The exchange's base URL: records go to `{url}/cases` and `{url}/ratings`. */
  url: string
  credentials: ProvinceCredentials
  /** Records per request (at most PROVINCE_MAX_BATCH; default 50). */
  batchSize?: number
  /** A request not answered within this is abandoned and retried (default 15 s). */
  timeoutMs?: number
  /** Retry delays: exponential from baseMs to capMs, with jitter (default 5 s to 10 min). */
  backoff?: { baseMs: number; capMs: number }
  /** How often the pusher looks for due records when nothing wakes it (default 5 s). */
  pollMs?: number
  /** The jitter's source (tests make it fixed). */
  random?: () => number
}

export const PROVINCE_DEFAULTS = { batchSize: 50, timeoutMs: 15_000, backoff: { baseMs: 5_000, capMs: 600_000 }, pollMs: 5_000 }

/** Why this configuration cannot run at this node, or null. */
export function provinceConfigProblem(c: ProvinceConfig, level: Level): string | null {
  if (level !== 'city' && level !== 'county') return `the province exchange runs at the city or a county, not at a ${level}: start the pushing node with --province-url`
  let u: URL
  try {
    u = new URL(c.url)
  } catch {
    return `--province-url "${c.url}" is not a URL (e.g. https://zwfw.sc.gov.cn/exchange/v1)`
  }
  if (u.protocol !== 'https:' && !(u.protocol === 'http:' && isLoopback(u.hostname))) {
    return `--province-url ${c.url}: records and credentials would cross the network in clear text; use https:// (plain http only to a loopback address)`
  }
  if (u.username || u.password) return '--province-url must not carry credentials: give them in --province-credentials FILE (or TONGBAN_PROVINCE_CREDENTIALS)'
  if (u.search || u.hash) return `--province-url ${c.url} must not carry a query or a fragment`
  const b = c.batchSize ?? PROVINCE_DEFAULTS.batchSize
  if (!Number.isInteger(b) || b < 1 || b > PROVINCE_MAX_BATCH) return `the province batch size is 1–${PROVINCE_MAX_BATCH}, not ${b}`
  return null
}

/**
 * The credentials from a file (`--province-credentials`) or the environment
 * (TONGBAN_PROVINCE_CREDENTIALS), as JSON `{"clientId": …, "clientSecret": …}`. Messages never
 * quote the content: it holds the secret.
 */
export function readProvinceCredentials(file: string | undefined, env: NodeJS.ProcessEnv = process.env): { credentials: ProvinceCredentials } | { problem: string } {
  let text: string
  let where: string
  if (file) {
    where = `--province-credentials ${file}`
    try {
      text = readFileSync(file, 'utf8')
    } catch (e) {
      return { problem: `${where}: cannot read it (${(e as NodeJS.ErrnoException).code ?? 'error'})` }
    }
  } else if (env.TONGBAN_PROVINCE_CREDENTIALS) {
    where = 'TONGBAN_PROVINCE_CREDENTIALS'
    text = env.TONGBAN_PROVINCE_CREDENTIALS
  } else {
    return { problem: '--province-url needs credentials: --province-credentials FILE or TONGBAN_PROVINCE_CREDENTIALS, JSON {"clientId": "…", "clientSecret": "…"}' }
  }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    // JSON.parse's message quotes the text: say only where it is wrong.
    return { problem: `${where} is not JSON; it must be {"clientId": "…", "clientSecret": "…"}` }
  }
  const r = ProvinceCredentialsSchema.safeParse(json)
  if (!r.success) return { problem: `${where}: ${r.error.issues.map((i) => i.message).join('; ')}` }
  return { credentials: r.data }
}
