import { describe, expect, it } from 'vitest'
import type { CaseEvent, CaseView } from './case.ts'
import { decodeFrame, encodeFrame, FrameError, MAX_ASK_BYTES } from './link-frames.ts'
import { LinkAnswerSchema, LinkAskSchema, phoneKeyText, progressOf, PublicProgressSchema } from './progress.ts'

const VILLAGE = '511302101201'
const TOWNSHIP = '511302101000'
const ID = `${VILLAGE}-20261130-0001`
const at = { itemName: '高龄津贴申请', resultKind: 'benefit' as const, handlerName: '潆溪镇', nodeCode: VILLAGE }

let n = 0
const ev = (e: Record<string, unknown>): CaseEvent => ({ id: `e${++n}`, lamport: n, author: TOWNSHIP, user: '周窗口', at: '2026-11-30T02:00:00Z', sig: 'S'.repeat(86), ...e }) as CaseEvent

function view(status: CaseView['status'], events: CaseEvent[], more: Partial<CaseView> = {}): CaseView {
  return {
    id: ID, itemCode: 'T-002', itemVersion: 1, originCode: VILLAGE, handlerCode: TOWNSHIP, currentHandlerCode: TOWNSHIP, handlers: [TOWNSHIP],
    applicant: { name: '吴大妈', idType: 'resident-id', idNumber: '511302195001011231', phone: '13600000071' }, materials: ['户口簿'],
    createdAt: '2026-11-30T01:00:00Z', createdBy: '李代办', kind: 'promised', promisedDays: 10, sig: 'S'.repeat(86),
    events, status, dueDate: null, flagged: [], rating: null, acceptedAt: null, completedAt: null, owed: [], rectification: null,
    ...more,
  } as CaseView
}

describe('progressOf: what the public lookup shows', () => {
  it('names the materials to bring while a correction is asked for, and nothing of the applicant', () => {
    const p = progressOf(view('correction', [ev({ type: 'accepted' }), ev({ type: 'correction-requested', materials: ['户口簿', '申请表'], note: '须为原件' })]), at)
    expect(p.correction).toEqual({ materials: ['户口簿', '申请表'], note: '须为原件' })
    expect(p.reason).toBeNull()
    expect(PublicProgressSchema.parse(p)).toEqual(p)
    expect(JSON.stringify(p)).not.toMatch(/吴大妈|511302195001011231|13600000071/)
  })

  it('drops the correction once the materials are back, and gives the reason of a refusal or a denial', () => {
    const resumed = progressOf(view('accepted', [ev({ type: 'accepted' }), ev({ type: 'correction-requested', materials: ['户口簿'] }), ev({ type: 'resumed' })]), at)
    expect(resumed.correction).toBeNull()
    expect(progressOf(view('refused', [ev({ type: 'refused', reason: '不属于本机关职权范围' })]), at).reason).toBe('不属于本机关职权范围')
    expect(progressOf(view('denied', [ev({ type: 'accepted' }), ev({ type: 'denied', reason: '收入超过标准' })]), at).reason).toBe('收入超过标准')
    expect(progressOf(view('approved', [ev({ type: 'accepted' }), ev({ type: 'approved' })]), at).reason).toBeNull()
  })

  it('lists the 容缺 materials still owed with their deadline', () => {
    const p = progressOf(view('accepted', [ev({ type: 'accepted' })], { owed: ['惠农补贴一卡通'], deferred: { materials: ['惠农补贴一卡通'], commitment: '承诺补齐', deadline: '2026-12-10' } }), at)
    expect(p.owed).toEqual({ materials: ['惠农补贴一卡通'], deadline: '2026-12-10' })
  })

  it('may be rated on this page only at the window that took it in, once delivered and not yet rated', () => {
    const delivered = view('delivered', [ev({ type: 'accepted' }), ev({ type: 'approved' }), ev({ type: 'delivered' })])
    expect(progressOf(delivered, at).ratable).toBe(true)
    expect(progressOf(delivered, { ...at, nodeCode: TOWNSHIP }).ratable).toBe(false)
    expect(progressOf({ ...delivered, rating: 4 }, at)).toMatchObject({ ratable: false, rated: true })
  })
})

describe('ask and answer frames, and their bodies', () => {
  it('round-trip, and a body over the limit is refused both ways', () => {
    const ask = { type: 'ask' as const, id: 7, body: JSON.stringify({ kind: 'progress', caseId: ID, phoneHash: 'a'.repeat(64) }) }
    expect(decodeFrame(encodeFrame(ask))).toEqual(ask)
    const answer = { type: 'answer' as const, id: 7, body: JSON.stringify({ outcome: 'not-found' }) }
    expect(decodeFrame(encodeFrame(answer))).toEqual(answer)
    expect(() => encodeFrame({ type: 'ask', id: 1, body: 'x'.repeat(MAX_ASK_BYTES + 1) })).toThrow(FrameError)
    // Hand-made: type 10, id 1, a body longer than allowed.
    const big = new Uint8Array([10, 1, 0x81, 0x40 + 0x80, 0x00, ...new Uint8Array(8193)])
    expect(() => decodeFrame(big)).toThrow(FrameError)
  })

  it('bodies are checked: a phone travels only as a 64-hex hash, an answer only as the public view', () => {
    expect(LinkAskSchema.safeParse({ kind: 'progress', caseId: ID, phoneHash: '13600000071' }).success).toBe(false)
    expect(LinkAskSchema.safeParse({ kind: 'other', caseId: ID, phoneHash: 'a'.repeat(64) }).success).toBe(false)
    expect(LinkAnswerSchema.safeParse({ outcome: 'found', progress: { id: ID } }).success).toBe(false)
    expect(LinkAnswerSchema.safeParse({ outcome: 'unreachable', unit: VILLAGE }).success).toBe(true)
    expect(phoneKeyText(ID, '136 0000-0071')).toBe(`${ID}:13600000071`)
  })
})
