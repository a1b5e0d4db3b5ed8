/**
 * The live case view speaks the y-websocket protocol: two staff open one case with stock
 * y-websocket clients, see each other (awareness: who holds it) and see an action taken
 * through the API arrive in their copy of the document. Writes from a browser are ignored.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { WebSocket } from 'ws'
import { WebsocketProvider } from 'y-websocket'
import * as Y from 'yjs'
import type { RunningNode } from '../../nodes/core/start.ts'
import { tempDir } from '../helpers/template.ts'
import { startOneItemTownship } from '../helpers/township.ts'
import { eventually, login, type Remote } from '../helpers/remote.ts'
import { applicant } from '../helpers/node.ts'

const tmp = tempDir('tongban-live-')
let running: RunningNode
let staff: Remote

beforeAll(async () => {
  running = await startOneItemTownship(tmp.dir)
  await running.node.users.add({ name: 'staff', role: 'staff', password: 'password1' })
  await running.node.users.add({ name: 'staff2', role: 'staff', password: 'password1' })
  staff = await login(running.url, 'staff', 'password1')
}, 300_000)

afterAll(async () => {
  await running.stop()
  tmp.cleanup()
})

function open(caseId: string, token: string, who: string) {
  const doc = new Y.Doc()
  const provider = new WebsocketProvider(running.url.replace('http', 'ws') + '/live/case', caseId, doc, {
    WebSocketPolyfill: WebSocket as never, params: { token }, disableBc: true,
  })
  provider.awareness.setLocalStateField('user', { name: who })
  return { doc, provider }
}

describe('live case view (y-websocket)', () => {
  it('syncs the case, shows who holds it, and streams actions live', async () => {
    const made = await staff('POST', '/api/cases', { itemCode: 'T-001', applicant, materials: ['申请书'] })
    expect(made.status).toBe(201)
    const id = made.body.id
    const t1 = (await running.node.users.login({ name: 'staff', password: 'password1' })).token
    const t2 = (await running.node.users.login({ name: 'staff2', password: 'password1' })).token
    const a = open(id, t1, '张科员')
    const b = open(id, t2, '李科员')
    try {
      await eventually(async () => a.doc.getMap('case').get('application') && b.doc.getMap('case').get('application'), 60_000, 'both views to sync')
      expect((a.doc.getMap('case').get('application') as any).id).toBe(id)
      await eventually(async () => {
        // Names are the node's, from each socket's session, not what the browser announced.
        const names = [...a.provider.awareness.getStates().entries()].filter(([id]) => id !== a.doc.clientID).map(([, s]: any) => s.user?.name)
        return names.includes('staff2')
      }, 60_000, 'awareness of the other staff member')

      expect((await staff('POST', `/api/cases/${id}/events`, { type: 'approved' })).status).toBe(200)
      await eventually(async () => b.doc.getArray('events').toArray().some((e: any) => e.type === 'approved'), 60_000, 'the approval in the live view')

      // A browser writing to the document changes nothing at the node.
      a.doc.getArray('events').push([{ type: 'withdrawn', id: 'forged', lamport: 99, author: '511302101000', user: 'x', at: new Date().toISOString() }])
      // An ordering, not a pause: the node reads a's socket in order, so once b hears what a
      // announced after the write, the node has already met (and ignored) the write.
      a.provider.awareness.setLocalStateField('acting', 'approved')
      await eventually(async () => [...b.provider.awareness.getStates().values()].some((s: any) => s.user?.name === 'staff' && s.acting === 'approved'), 60_000, 'what a announced after its write, at b')
      const view = await staff('GET', `/api/cases/${id}`)
      expect(view.body.events.map((e: any) => e.id)).not.toContain('forged')
    } finally {
      a.provider.destroy()
      b.provider.destroy()
    }
  })

  it('refuses a live view without a valid token', async () => {
    const made = await staff('POST', '/api/cases', { itemCode: 'T-001', applicant, materials: ['申请书'] })
    const ws = new WebSocket(running.url.replace('http', 'ws') + `/live/case/${made.body.id}?token=bogus`)
    const status = await new Promise<number>((resolve) => {
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0))
      ws.on('open', () => resolve(101))
      ws.on('error', () => {})
    })
    expect(status).toBe(403)
  })
})
