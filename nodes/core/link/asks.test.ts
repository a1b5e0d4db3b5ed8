import { describe, expect, it } from 'vitest'
import type { LinkAnswer, LinkAsk, LinkFrame } from '../../../protocol/index.ts'
import { LinkAsks, MAX_ANSWERING } from './asks.ts'

const VILLAGE = '511302101201'
const ID = `${VILLAGE}-20261130-0001`
const ASK: LinkAsk = { kind: 'progress', caseId: ID, phoneHash: 'a'.repeat(64) }
const flush = () => new Promise((r) => setTimeout(r, 0))

function pair(peerIsChild: boolean, answerer: (a: LinkAsk) => Promise<LinkAnswer> = async () => ({ outcome: 'not-found' })) {
  const sent: LinkFrame[] = []
  const logs: string[] = []
  const asks = new LinkAsks(VILLAGE, peerIsChild, (f) => void sent.push(f), answerer, (m) => void logs.push(m))
  return { asks, sent, logs }
}
const lastBody = (sent: LinkFrame[]) => JSON.parse((sent.at(-1) as { body: string }).body)

describe('asks on a link (hostile peers)', () => {
  it('a child that asks its parent is refused, logged and answered not-found; the answerer is never called', async () => {
    let called = false
    const { asks, sent, logs } = pair(true, async () => ((called = true), { outcome: 'not-found' }))
    asks.onAsk({ type: 'ask', id: 1, body: JSON.stringify(ASK) })
    await flush()
    expect(called).toBe(false)
    expect(lastBody(sent)).toEqual({ outcome: 'not-found' })
    expect(logs.join()).toMatch(/a child does not ask its parent/)
  })

  it('an ask that is not JSON, or not the schema (a phone in the clear), is refused and answered', async () => {
    const { asks, sent, logs } = pair(false)
    asks.onAsk({ type: 'ask', id: 1, body: '{not json' })
    asks.onAsk({ type: 'ask', id: 2, body: JSON.stringify({ ...ASK, phoneHash: '13600000071' }) })
    await flush()
    expect(sent.map((f) => (f as { id: number }).id)).toEqual([1, 2])
    expect(logs).toHaveLength(2)
  })

  it('at most MAX_ANSWERING asks are in work at once; more are answered limited', async () => {
    let release!: () => void
    const gate = new Promise<void>((r) => (release = r))
    const { asks, sent } = pair(false, async () => (await gate, { outcome: 'not-found' }))
    for (let i = 1; i <= MAX_ANSWERING + 2; i++) asks.onAsk({ type: 'ask', id: i, body: JSON.stringify(ASK) })
    expect(sent.map(lastOutcome)).toEqual(['limited', 'limited'])
    release()
    await flush()
    await flush()
    expect(sent).toHaveLength(MAX_ANSWERING + 2)
  })

  it('an answer nobody asked for is dropped; one about another case or malformed counts as unreachable', async () => {
    const { asks, sent, logs } = pair(true)
    asks.onAnswer({ type: 'answer', id: 99, body: JSON.stringify({ outcome: 'not-found' }) })
    expect(logs.join()).toMatch(/not asked/)
    const a = asks.ask(ASK)
    const id = (sent.at(-1) as { id: number }).id
    const other = { id: `${VILLAGE}-20261130-0002`, itemName: 'x', status: 'accepted', dueDate: null, resultKind: 'licence', handlerName: 'x', correction: null, owed: null, reason: null, ratable: false, rated: false, answeredBy: VILLAGE }
    asks.onAnswer({ type: 'answer', id, body: JSON.stringify({ outcome: 'found', progress: other }) })
    expect(await a).toEqual({ outcome: 'unreachable', unit: VILLAGE })
    const b = asks.ask(ASK)
    asks.onAnswer({ type: 'answer', id: (sent.at(-1) as { id: number }).id, body: '[]' })
    expect(await b).toEqual({ outcome: 'unreachable', unit: VILLAGE })
  })

  it('an ask the child never answers, or one pending when the link closes, is unreachable', async () => {
    const { asks } = pair(true)
    expect(await asks.ask(ASK, 20)).toEqual({ outcome: 'unreachable', unit: VILLAGE })
    const pending = asks.ask(ASK)
    asks.close()
    expect(await pending).toEqual({ outcome: 'unreachable', unit: VILLAGE })
    // A parent link never asks upwards.
    expect(await pair(false).asks.ask(ASK)).toEqual({ outcome: 'unreachable', unit: VILLAGE })
  })
})

function lastOutcome(f: LinkFrame): string {
  return JSON.parse((f as { body: string }).body).outcome
}
