/**
 * Class 6 of issue 7, transport: links and the UI run over TLS; a child pins its parent's
 * certificate at enrollment and refuses a man in the middle with another certificate before
 * anything (not even its token) leaves it; plain http only on loopback.
 */
import { statSync, writeFileSync, mkdirSync, readFileSync } from 'node:fs'
import { createServer as createHttpsServer, type Server } from 'node:https'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { generate } from 'selfsigned'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { enrollChild } from '../../nodes/core/link/enrollment.ts'
import { pinnedFetch } from '../../nodes/core/link/tls-client.ts'
import { parseEnrollmentToken, pinToken } from '../../nodes/core/link/token.ts'
import { ConfigError } from '../../nodes/core/node.ts'
import { startNode } from '../../nodes/core/start.ts'
import { checkParentUrl, fingerprintOf, isLoopback } from '../../nodes/core/tls.ts'
import { killAll, loginAt, runCli, startNodeProcess, type NodeProcess } from '../helpers/process.ts'
import { eventually } from '../helpers/remote.ts'
import { tempDir } from '../helpers/template.ts'

const TOWNSHIP = '511302101000'
const VILLAGE = '511302101201'
const OTHER_VILLAGE = '511302101202'
const tmp = tempDir('tongban-tls-')

afterAll(async () => {
  await killAll()
  tmp.cleanup()
})

/** A "parent" with its own self-signed certificate that records everything that reaches it. */
async function impostor(): Promise<{ url: string; fingerprint: string; seen: string[]; handshakes: () => number; close(): Promise<void> }> {
  const pems = await generate([{ name: 'commonName', value: 'tongban 511302101000' }], { keyType: 'ec', curve: 'P-256', algorithm: 'sha256' })
  const seen: string[] = []
  let handshakes = 0
  const server: Server = createHttpsServer({ cert: pems.cert, key: pems.private }, (req, res) => {
    seen.push(`${req.method} ${req.url} ${JSON.stringify(req.headers)}`)
    res.end('{}')
  })
  server.on('connection', () => handshakes++) // TCP: the client may hang up before the server sees its Finished
  server.on('upgrade', (req, socket) => {
    seen.push(`UPGRADE ${req.url} ${JSON.stringify(req.headers)}`)
    socket.destroy()
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return {
    url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`,
    fingerprint: fingerprintOf(pems.cert),
    seen,
    handshakes: () => handshakes,
    close: () => new Promise<void>((r) => {
      server.close(() => r())
      server.closeAllConnections()
    }),
  }
}

describe('plain http is refused off loopback', { timeout: 300_000 }, () => {
  it('classifies addresses and parent URLs', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost']) expect(isLoopback(h), h).toBe(true)
    for (const h of ['0.0.0.0', '10.0.0.5', '192.168.1.10', '::', 'example.org', '128.0.0.1']) expect(isLoopback(h), h).toBe(false)
    expect(checkParentUrl('https://10.0.0.5:7000')).toBeNull()
    expect(checkParentUrl('http://127.0.0.1:7000')).toBeNull()
    expect(checkParentUrl('http://10.0.0.5:7000')).toMatch(/clear text/)
    expect(checkParentUrl('ftp://10.0.0.5')).toMatch(/https URL/)
  })

  it('`--parent http://` to a non-loopback address exits 2 with a clear message, storing nothing', async () => {
    const data = join(tmp.dir, 'http-parent')
    const r = await runCli(['start', '--level', 'village', '--code', VILLAGE, '--name', '长青村', '--data', data,
      '--parent', 'http://10.20.30.40:7000', '--token', 'x.y'], 60_000)
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/^tongban: --parent http:\/\/10\.20\.30\.40:7000: plain http would send the enrollment token and every case in clear text/m)
    expect(r.stderr).not.toMatch(/\n\s+at /)
  })

  it('listening on a non-loopback address without TLS is refused (CLI and startNode)', async () => {
    const r = await runCli(['start', '--level', 'village', '--code', VILLAGE, '--name', '长青村', '--data', join(tmp.dir, 'insecure'),
      '--host', '0.0.0.0', '--insecure-http'], 60_000)
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/^tongban: --insecure-http is for development on this machine only: refusing to listen on 0\.0\.0\.0 without TLS/m)
    await expect(startNode({ level: 'village', code: VILLAGE, name: 'v', dataDir: join(tmp.dir, 'insecure-2') }, 0, '0.0.0.0'))
      .rejects.toThrow(ConfigError)
    await expect(startNode({ level: 'village', code: VILLAGE, name: 'v', dataDir: join(tmp.dir, 'insecure-2') }, 0, '0.0.0.0'))
      .rejects.toThrow(/refusing to listen on 0\.0\.0\.0 without TLS/)
  })

  it('--tls-cert without --tls-key, and a key that is not the certificate\'s, are refused', async () => {
    const a = await generate([{ name: 'commonName', value: 'a' }], { keyType: 'ec', curve: 'P-256', algorithm: 'sha256' })
    const b = await generate([{ name: 'commonName', value: 'b' }], { keyType: 'ec', curve: 'P-256', algorithm: 'sha256' })
    mkdirSync(join(tmp.dir, 'pem'), { recursive: true })
    writeFileSync(join(tmp.dir, 'pem', 'a.crt'), a.cert)
    writeFileSync(join(tmp.dir, 'pem', 'b.key'), b.private)
    const base = ['start', '--level', 'village', '--code', VILLAGE, '--name', '长青村', '--data', join(tmp.dir, 'bad-pem')]
    const half = await runCli([...base, '--tls-cert', join(tmp.dir, 'pem', 'a.crt')], 60_000)
    expect(half.code).toBe(2)
    expect(half.stderr).toMatch(/--tls-cert and --tls-key go together/)
    const wrong = await runCli([...base, '--tls-cert', join(tmp.dir, 'pem', 'a.crt'), '--tls-key', join(tmp.dir, 'pem', 'b.key')], 60_000)
    expect(wrong.code).toBe(2)
    expect(wrong.stderr).toMatch(/does not belong to the certificate/)
  })
})

describe('the enrollment token and pinnedFetch', () => {
  it('parses `<secret>#<fingerprint>` and refuses a damaged pin', () => {
    const fp = 'ab'.repeat(32)
    expect(parseEnrollmentToken(`511302101201.abc#${fp}`)).toEqual({ secret: '511302101201.abc', fingerprint: fp })
    expect(parseEnrollmentToken(`511302101201.abc#${fp.toUpperCase().match(/../g)!.join(':')}`).fingerprint).toBe(fp)
    expect(parseEnrollmentToken('511302101201.abc')).toEqual({ secret: '511302101201.abc', fingerprint: null })
    expect(() => parseEnrollmentToken('511302101201.abc#abcd')).toThrow(/fingerprint/)
  })

  it('sends nothing to a server whose certificate is not the pinned one; works with the right pin', async () => {
    const fake = await impostor()
    try {
      await expect(pinnedFetch(`${fake.url}/link/enroll`, { method: 'POST', body: 'secret-token' }, 'cd'.repeat(32))).rejects.toThrow(/not the one pinned at enrollment/)
      await expect(pinnedFetch(`${fake.url}/x`, {}, null)).rejects.toThrow(/self[- ]signed/i) // no pin: system CAs only
      expect(fake.handshakes()).toBeGreaterThan(0)
      expect(fake.seen).toEqual([]) // neither request reached it
      const ok = await pinnedFetch(`${fake.url}/ok`, { method: 'POST', body: 'hello' }, fake.fingerprint)
      expect(ok.status).toBe(200)
      expect(fake.seen).toHaveLength(1)
      await expect(pinnedFetch('http://10.20.30.40:9/x', {}, null)).rejects.toThrow(/clear text/)
    } finally {
      await fake.close()
    }
  })
})

describe('links and the UI over TLS between real node processes', { timeout: 300_000 }, () => {
  let township: NodeProcess, village: NodeProcess
  const townData = join(tmp.dir, 'township')
  const villageData = join(tmp.dir, 'village')
  let token: string

  beforeAll(async () => {
    mkdirSync(townData, { recursive: true })
    writeFileSync(join(townData, 'users.seed.json'), JSON.stringify([{ name: 'staff', role: 'staff', password: 'password1' }]))
    township = await startNodeProcess({ level: 'township', code: TOWNSHIP, name: '潆溪镇', data: townData, catalogue: 'sample' })
    const child = await runCli(['child', 'add', '--data', townData, '--code', VILLAGE], 60_000)
    expect(child.code).toBe(0)
    token = child.stdout.trim()
  }, 300_000)

  it('serves https with a self-signed certificate made at first start: key 0600, its fingerprint printed and put in the token', () => {
    expect(township.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/)
    const fp = fingerprintOf(readFileSync(join(townData, 'tls', 'cert.pem')))
    expect(township.output()).toContain(`certificate sha256 ${fp}`)
    expect(statSync(join(townData, 'tls', 'key.pem')).mode & 0o777).toBe(0o600)
    expect(parseEnrollmentToken(token).fingerprint).toBe(fp)
  })

  it('the UI and the API answer over https', async () => {
    const page = await fetch(`${township.url}/`)
    expect(page.status).toBe(200)
    expect(await page.text()).toMatch(/<html/i)
    const staff = await loginAt(township.url, 'staff', 'password1')
    expect((await staff('GET', '/api/catalogue')).status).toBe(200)
  })

  it('a child enrolled with the pinned token links over wss, and again after a restart with no flags', async () => {
    mkdirSync(villageData, { recursive: true })
    village = await startNodeProcess({ level: 'village', code: VILLAGE, name: '长青村', data: villageData, extra: ['--parent', township.url, '--token', token] })
    const linked = async () => {
      const v = await (await fetch(`${village.url}/healthz`)).json() as any
      const t = await (await fetch(`${township.url}/healthz`)).json() as any
      return v.sync.parent?.connected === true && t.sync.children.connected === 1
    }
    await eventually(linked, 60_000, 'the village linked to the township over wss')
    expect(village.output()).not.toMatch(/not linking to the parent/)
    expect(await village.stop()).toBe(0)
    // No --parent, --token: the URL, the secret and the pinned fingerprint come from the store.
    village = await startNodeProcess({ level: 'village', code: VILLAGE, name: '长青村', data: villageData })
    await eventually(linked, 60_000, 'the village linked again after a restart')
    expect(await village.stop()).toBe(0)
  })

  it('a child refuses a man in the middle with another certificate, sends it nothing, and logs why', async () => {
    const fake = await impostor()
    try {
      const data = join(tmp.dir, 'mitm-village')
      mkdirSync(data, { recursive: true })
      const real = pinToken(enrollChild(townData, TOWNSHIP, OTHER_VILLAGE), townData) // pins the township's certificate
      const victim = await startNodeProcess({ level: 'village', code: OTHER_VILLAGE, name: '青松村', data, extra: ['--parent', fake.url, '--token', real] })
      await eventually(async () => /not the one pinned at enrollment/.test(victim.output()), 60_000, 'the village to log the refused certificate')
      expect(victim.output()).toMatch(/not linking to the parent: .*the parent's TLS certificate \(sha256 [0-9a-f]{64}\) is not the one pinned at enrollment \(sha256 [0-9a-f]{64}\)/)
      expect(victim.output()).toContain(fake.fingerprint)
      expect(fake.handshakes()).toBeGreaterThan(0)
      expect(fake.seen).toEqual([]) // no upgrade request: the token never left the village
      const health = await (await fetch(`${victim.url}/healthz`)).json() as any
      expect(health.sync.parent.connected).toBe(false)
      expect(await victim.stop()).toBe(0)
    } finally {
      await fake.close()
    }
  })
})
