/**
 * The node's TLS certificate: the operator's (`--tls-cert/--tls-key`, PEM files) or a
 * self-signed one made at first start and kept in `<data>/tls/` (private key mode 0600).
 * Children pin the certificate's SHA-256 fingerprint at enrollment (see link/token.ts), so a
 * self-signed certificate is as good as a CA's between nodes; browsers warn about it once.
 *
 * Certificates are made with `selfsigned` (pure JS over WebCrypto, MIT): Node 20's crypto can
 * read X.509 but not write it, and `openssl` is not on every village laptop.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto'
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { isIP } from 'node:net'
import { join } from 'node:path'
import { generate } from 'selfsigned'
import { ConfigError } from './node.ts'

export interface ServingCert {
  cert: string
  key: string
  /** SHA-256 of the certificate's DER, 64 lowercase hex digits (what a child pins). */
  fingerprint: string
  source: 'self-signed' | 'files'
  certFile: string
}

/** How a node serves: its own certificate files, a self-signed one in the data dir, or plain http (loopback only). */
export type TlsMode = { certFile: string; keyFile: string } | 'self-signed' | 'insecure-http'

const SELF_SIGNED_DAYS = 3650

export const tlsDir = (dataDir: string) => join(dataDir, 'tls')
const servingFile = (dataDir: string) => join(tlsDir(dataDir), 'serving.json')

/** "AA:BB:…" or "aabb…" → 64 lowercase hex digits; null when it is not a SHA-256 fingerprint. */
export function normalizeFingerprint(s: string): string | null {
  const hex = s.trim().replace(/:/g, '').toLowerCase()
  return /^[0-9a-f]{64}$/.test(hex) ? hex : null
}

export function fingerprintOf(certPem: string | Buffer): string {
  return normalizeFingerprint(new X509Certificate(certPem).fingerprint256)!
}

/** 127.0.0.0/8, ::1, ::ffff:127.x and "localhost": the only addresses plain http may use. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase()
  if (h === 'localhost' || h.endsWith('.localhost')) return true
  if (isIP(h) === 4) return h.startsWith('127.')
  if (isIP(h) === 6) return h === '::1' || /^::ffff:127\./.test(h) || /^0*:0*:0*:0*:0*:0*:0*:0*1$/.test(h)
  return false
}

/**
 * Checks a parent URL: https (or wss) anywhere; plain http only to a loopback address, where it
 * is allowed with a warning. Returns the refusal message, or null.
 */
export function checkParentUrl(url: string): string | null {
  let u: URL
  try {
    u = new URL(url)
  } catch {
    return `--parent must be an https URL, not "${url}"`
  }
  if (u.protocol === 'https:' || u.protocol === 'wss:') return null
  if (u.protocol !== 'http:' && u.protocol !== 'ws:') return `--parent must be an https URL, not "${url}"`
  if (isLoopback(u.hostname)) return null
  return `--parent ${url}: plain http would send the enrollment token and every case in clear text; use the parent's https:// URL (plain http is allowed only to a loopback address)`
}

/**
 * The certificate to serve with: the operator's files (checked: both PEM, and the key matches the
 * certificate) or the data dir's self-signed one, made now if there is none. Records the
 * fingerprint in `<data>/tls/serving.json` for `tongban child add`.
 */
export async function loadOrCreateCertificate(dataDir: string, code: string, mode: Exclude<TlsMode, 'insecure-http'>): Promise<ServingCert> {
  let served: ServingCert
  if (mode === 'self-signed') {
    const dir = tlsDir(dataDir)
    const certFile = join(dir, 'cert.pem')
    const keyFile = join(dir, 'key.pem')
    if (!existsSync(certFile) || !existsSync(keyFile)) await makeSelfSigned(dir, code, certFile, keyFile)
    const pair = readPair(certFile, keyFile)
    served = { ...pair, fingerprint: fingerprintOf(pair.cert), source: 'self-signed', certFile }
  } else {
    const pair = readPair(mode.certFile, mode.keyFile)
    served = { ...pair, fingerprint: fingerprintOf(pair.cert), source: 'files', certFile: mode.certFile }
  }
  mkdirSync(tlsDir(dataDir), { recursive: true, mode: 0o700 })
  writeAtomic(servingFile(dataDir), JSON.stringify({ fingerprint: served.fingerprint, source: served.source, certFile: served.certFile }, null, 2) + '\n', 0o644)
  return served
}

/** Forgets the served fingerprint (the node now runs without TLS): child add must not hand out a stale one. */
export function clearServingCertificate(dataDir: string): void {
  rmSync(servingFile(dataDir), { force: true })
}

/** The fingerprint of the certificate this data dir's node serves with (as of its last start), or null. */
export function servingFingerprint(dataDir: string): string | null {
  try {
    const s = JSON.parse(readFileSync(servingFile(dataDir), 'utf8')) as { fingerprint?: string }
    return typeof s.fingerprint === 'string' ? normalizeFingerprint(s.fingerprint) : null
  } catch {
    return null
  }
}

/** Checks the operator's certificate and key files (readable PEM, the key is the certificate's); throws ConfigError. */
export function checkCertificateFiles(mode: { certFile: string; keyFile: string }): void {
  readPair(mode.certFile, mode.keyFile)
}

function readPair(certFile: string, keyFile: string): { cert: string; key: string } {
  let cert: string, key: string
  try {
    cert = readFileSync(certFile, 'utf8')
  } catch (e) {
    throw new ConfigError(`--tls-cert ${certFile}: ${(e as Error).message}`)
  }
  try {
    key = readFileSync(keyFile, 'utf8')
  } catch (e) {
    throw new ConfigError(`--tls-key ${keyFile}: ${(e as Error).message}`)
  }
  let x509: X509Certificate
  try {
    x509 = new X509Certificate(cert)
  } catch {
    throw new ConfigError(`--tls-cert ${certFile} is not a PEM certificate`)
  }
  let pk
  try {
    pk = createPrivateKey(key)
  } catch {
    throw new ConfigError(`--tls-key ${keyFile} is not a PEM private key (an encrypted key is not supported)`)
  }
  if (!x509.checkPrivateKey(pk)) throw new ConfigError(`--tls-key ${keyFile} does not belong to the certificate ${certFile}`)
  return { cert, key }
}

async function makeSelfSigned(dir: string, code: string, certFile: string, keyFile: string): Promise<void> {
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  const host = hostname()
  const altNames: { type: 2 | 7; value?: string; ip?: string }[] = [
    { type: 2, value: 'localhost' }, { type: 7, ip: '127.0.0.1' }, { type: 7, ip: '::1' },
  ]
  if (host && host !== 'localhost' && /^[A-Za-z0-9.-]+$/.test(host)) altNames.push({ type: 2, value: host })
  const notBeforeDate = new Date(Date.now() - 24 * 3600_000) // a laptop clock a day behind still accepts it
  const pems = await generate([{ name: 'commonName', value: `tongban ${code}` }, { name: 'organizationName', value: 'tongban' }], {
    keyType: 'ec', curve: 'P-256', algorithm: 'sha256',
    notBeforeDate, notAfterDate: new Date(notBeforeDate.getTime() + SELF_SIGNED_DAYS * 24 * 3600_000),
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames },
    ],
  })
  // Key first (0600 from the start, never world-readable for an instant), then the certificate:
  // a crash between the two leaves no certificate, and the next start makes a fresh pair.
  writeAtomic(keyFile, pems.private, 0o600)
  writeAtomic(certFile, pems.cert, 0o644)
}

function writeAtomic(file: string, text: string, mode: number): void {
  const tmp = `${file}.tmp`
  writeFileSync(tmp, text, { mode })
  chmodSync(tmp, mode) // the umask may have narrowed it, and an older tmp file keeps its mode
  renameSync(tmp, file)
}
