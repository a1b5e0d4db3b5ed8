/**
 * A change that only deletes (a statistics key whose last case moved to another day) moves no
 * Yjs state vector, yet it is a change: it must be stored, projected and sent on, made here or
 * received from a peer.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { testNode, type TestNode } from '../helpers/node.ts'

let n: TestNode
beforeAll(async () => {
  n = await testNode({ level: 'township', code: '511302101000' })
}, 300_000)
afterAll(async () => n?.close())

describe('delete-only changes', () => {
  it('a local change that only deletes a key is stored', async () => {
    const id = 'stats:511302101000:2026-11'
    expect((await n.node.docs.change(id, (d) => d.getMap('x').set('k', { a: 1 }))).stored).not.toBeNull()
    const r = await n.node.docs.change(id, (d) => d.getMap('x').delete('k'))
    expect(r.stored).not.toBeNull()
    n.node.docs.evict(id) // read back from the store
    expect((await n.node.docs.get(id)).getMap('x').has('k')).toBe(false)
  })

  it('a received update that only deletes is stored', async () => {
    const id = 'stats:511302101201:2026-11'
    const src = new Y.Doc()
    src.getMap('x').set('k', { a: 1 })
    const first = Y.encodeStateAsUpdate(src)
    const sv = Y.encodeStateVector(src)
    src.getMap('x').delete('k')
    const onlyDelete = Y.encodeStateAsUpdate(src, sv)
    expect((await n.node.docs.applyBatch([{ docId: id, update: first }], 'child:511302101201')).stored).toHaveLength(1)
    expect((await n.node.docs.applyBatch([{ docId: id, update: onlyDelete }], 'child:511302101201')).stored).toHaveLength(1)
    n.node.docs.evict(id)
    expect((await n.node.docs.get(id)).getMap('x').has('k')).toBe(false)
  })
})
