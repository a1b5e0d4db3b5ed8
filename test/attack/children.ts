/**
 * Hostile children of a real parent node, for the attack tests: each one a real key enrolled
 * at the parent and linked over a real socket, that records what the parent sends it (acking
 * it), pushes updates of its own and waits for the parent's ack, and checks that the parent
 * logged a refusal with the expected reason (a refused update is acked too: it is not resent).
 */
import { join } from 'node:path'
import { expect } from 'vitest'
import { decodeUpdatesBody, type LinkFrame } from '../../protocol/index.ts'
import { decompress } from '../../nodes/core/link/compress.ts'
import { enrollChild } from '../../nodes/core/link/enrollment.ts'
import type { RunningNode } from '../../nodes/core/start.ts'
import { childHello, enroll, openLink, proofHeaders, updatesFrame, type Identity, type Link } from '../helpers/link-client.ts'
import { waitFor } from './guard.ts'

/** One hostile child on its link: what it received (by doc), its sequence and the parent's acks. */
export interface Child {
  who: Identity
  link: Link
  seq: number
  acked: number
  received: Map<string, Uint8Array[]>
  step2: Map<string, Uint8Array>
}

/** The parent (running in this process, its data dir under `parentDir`), and where its link logs go. */
export function hostileChildren(parent: () => RunningNode, parentDir: string) {
  const logs: string[] = []

  /** Captures the parent's link log (call once the parent runs). */
  const listen = () => {
    ;(parent().links as unknown as { log: (m: string) => void }).log = (m) => logs.push(m)
  }

  async function connect(who: Identity): Promise<Child> {
    const p = parent()
    const token = enrollChild(parentDir, p.node.config.code, who.code)
    expect((await enroll(p.url, who, token)).status).toBe(200)
    const link = openLink(p.url, await proofHeaders(p.url, p.node.config.code, who))
    expect(await link.status).toBe(101)
    const c: Child = { who, link, seq: 0, acked: 0, received: new Map(), step2: new Map() }
    link.send(childHello(who.code, 1_000_000))
    link.ws.on('message', () => {
      for (const f of link.frames.splice(0)) onFrame(c, f)
    })
    return c
  }

  function onFrame(c: Child, f: LinkFrame): void {
    if (f.type === 'ack') c.acked = Math.max(c.acked, f.seq)
    if (f.type === 'sync-step2') c.step2.set(f.docId, f.update)
    if (f.type === 'updates' && f.compressed) {
      const entries = decodeUpdatesBody(decompress(f.body, 1 << 24))
      for (const e of entries) c.received.set(e.docId, [...(c.received.get(e.docId) ?? []), e.update])
      if (entries.length) c.link.send({ type: 'ack', seq: entries[entries.length - 1].seq })
    }
  }

  async function push(c: Child, docId: string, update: Uint8Array): Promise<void> {
    const s = ++c.seq
    c.link.send(updatesFrame([{ seq: s, docId, update }]))
    await waitFor(`ack of ${s} from ${c.who.code}`, () => c.acked >= s, 60_000)
  }

  async function refused(c: Child, docId: string, update: Uint8Array, reason: RegExp): Promise<void> {
    const before = logs.length
    await push(c, docId, update)
    const said = logs.slice(before).join('\n')
    expect(said).toMatch(/refused/)
    expect(said).toMatch(reason)
  }

  return { logs, listen, connect, push, refused }
}
