/** A JSON client for a node process over real HTTP, logged in as one of the demo users. */
import { DEMO_PASSWORD } from '../../nodes/core/cli/tree.ts'

export interface Remote {
  (method: string, path: string, body?: unknown): Promise<{ status: number; body: any }>
  base: string
}

export async function login(base: string, name: string, password = DEMO_PASSWORD): Promise<Remote> {
  const res = await fetch(`${base}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name, password }) })
  if (res.status !== 200) throw new Error(`login ${name} at ${base}: ${res.status} ${await res.text()}`)
  const { token } = (await res.json()) as { token: string }
  const call = async (method: string, path: string, body?: unknown) => {
    const r = await fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
    const text = await r.text()
    return { status: r.status, body: text ? JSON.parse(text) : null }
  }
  return Object.assign(call, { base })
}

/** Polls `probe` until it returns a truthy value or `timeoutMs` passes; returns the value or throws. */
export async function eventually<T>(probe: () => Promise<T | null | undefined | false>, timeoutMs: number, what: string, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let last: unknown
  for (let i = 0; Date.now() < deadline && i < 100_000; i++) {
    try {
      const v = await probe()
      if (v) return v
    } catch (e) {
      last = e
    }
    await new Promise((r) => setTimeout(r, everyMs))
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`)
}
