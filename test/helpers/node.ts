/** In-process nodes for API tests: a real PGlite store on disk, requests through app.request. */
import type { Hono } from 'hono'
import type { Level } from '../../protocol/index.ts'
import { createApp } from '../../nodes/core/http/app.ts'
import type { AppEnv } from '../../nodes/core/http/env.ts'
import { openNode, type NodeConfig, type TongbanNode } from '../../nodes/core/node.ts'
import { PRESETS } from '../../nodes/core/presets.ts'
import { pgliteTemplate, tempDir } from './template.ts'

export interface TestNode {
  node: TongbanNode
  app: Hono<AppEnv>
  dataDir: string
  /** Logs in a user (created if needed) and returns a request helper carrying its token. */
  as(name: string, role: 'agent' | 'staff' | 'admin' | 'supervisor'): Promise<Client>
  close(): Promise<void>
}

/** The password of users made by `as` (10 characters: enough for an administrator). */
export const TEST_PASSWORD = 'password10'

export type Client = (method: string, path: string, body?: unknown) => Promise<{ status: number; body: any }>

export async function testNode(opts: { level: Level; code: string; name?: string; catalogue?: string } & Partial<NodeConfig>): Promise<TestNode> {
  const tmp = tempDir()
  const node = await openNode({
    ...PRESETS[opts.level].defaults, name: opts.name ?? `node ${opts.code}`, dataDir: tmp.dir,
    loadDataDir: await pgliteTemplate(), ...opts,
  })
  const app = createApp(node, { extend: PRESETS[opts.level].extend })
  return {
    node, app, dataDir: tmp.dir,
    async as(name, role) {
      if (!(await node.users.list()).some((u) => u.name === name)) await node.users.add({ name, role, password: TEST_PASSWORD })
      const { token } = await node.users.login({ name, password: TEST_PASSWORD })
      return request(app, token)
    },
    async close() {
      await node.close()
      tmp.cleanup()
    },
  }
}

export function request(app: Hono<any>, token?: string): Client {
  return async (method, path, body) => {
    const res = await app.request(path, {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    })
    const text = await res.text()
    return { status: res.status, body: text ? JSON.parse(text) : null }
  }
}

export const applicant = { name: '张三', idType: 'resident-id' as const, idNumber: '511302198001011235', phone: '13800000000' }
