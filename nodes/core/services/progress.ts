/**
 * 办件进度查询 at any node of the tree: the case number names the window that took the case in
 * (its first 12 digits), so a node that does not hold the case asks its child on the way down
 * to that window, and so on until a node on the case's path answers (protocol/progress.ts).
 * Nothing personal goes up: the question carries a hash of the case number and the phone, the
 * answer only what the public page shows.
 *
 * Failed lookups are counted per case number here, for the public page and for questions from
 * the parent alike: a compromised node above cannot guess a phone faster than a person at the
 * page can.
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import { childTowards, phoneKeyText, progressOf, type CaseView, type LinkAnswer, type LinkAsk } from '../../../protocol/index.ts'
import type { TongbanNode } from '../node.ts'
import { Throttle } from './throttle.ts'

/** Failed lookups allowed per case number per window, from every entry point together. */
const CASE_LIMIT = 10
const CASE_WINDOW_MS = 60 * 60_000
/** A phone with fewer digits matches nothing (a case stored before intake required them). */
const MIN_DIGITS = 5

/** Asks the child `child` over its link; the links answer `unreachable` when it is not linked or does not answer in time. */
export type AskChild = (child: string, ask: LinkAsk) => Promise<LinkAnswer>

export const phoneHash = (caseId: string, phone: string): string => createHash('sha256').update(phoneKeyText(caseId, phone)).digest('hex')

/**
 * The stored phone matches the hash, compared in constant time. A stored phone with fewer than 5
 * digits matches nothing (a case stored before intake required them, "- - -", must not match "+++++").
 */
export function phoneMatches(storedPhone: string, caseId: string, hash: string): boolean {
  const same = timingSafeEqual(Buffer.from(phoneHash(caseId, storedPhone), 'hex'), Buffer.from(hash, 'hex'))
  return same && storedPhone.replace(/\D/g, '').length >= MIN_DIGITS
}

/** The same phone given twice (a pre-review's, the lookup's): by digits, in constant time, at least 5 of them. */
export const samePhone = (stored: string, given: string): boolean => phoneMatches(stored, '', phoneHash('', given))

const limitedFor = (waitMs: number): Extract<LinkAnswer, { outcome: 'limited' }> => ({ outcome: 'limited', retryAfterSeconds: Math.min(86_400, Math.ceil(waitMs / 1000)) })

export class ProgressLookup {
  readonly perCase: Throttle
  /** Set by the links once they run; a node without links (tests of one node) answers from its own store. */
  askChild: AskChild | null = null

  constructor(
    private readonly node: Pick<TongbanNode, 'config' | 'cases' | 'catalogue' | 'stats' | 'trust'>,
    perCase = new Throttle(CASE_LIMIT, CASE_WINDOW_MS),
  ) {
    this.perCase = perCase
  }

  /**
   * The case held here, for the applicant's own action (the rating): after the per-case limit,
   * only when the phone matches; else the answer to give, a failure counted. Never asks below.
   */
  async heldCase(ask: LinkAsk): Promise<CaseView | Exclude<LinkAnswer, { outcome: 'found' }>> {
    const wait = this.perCase.blockedFor(ask.caseId)
    if (wait) return limitedFor(wait)
    const view = await this.node.cases.get(ask.caseId)
    if (view && phoneMatches(view.applicant.phone, view.id, ask.phoneHash)) return view
    this.perCase.hit(ask.caseId)
    return { outcome: 'not-found' }
  }

  /** The case held here, when the phone matches (null: not held here). */
  private async local(ask: LinkAsk): Promise<LinkAnswer | null> {
    const view = await this.node.cases.get(ask.caseId)
    if (!view) return null
    if (!phoneMatches(view.applicant.phone, view.id, ask.phoneHash)) return { outcome: 'not-found' }
    const item = await this.node.catalogue.get(view.itemCode)
    const itemName = item?.name ?? (await this.node.stats.itemNames([view.itemCode]))[view.itemCode] ?? view.itemCode
    const progress = progressOf(view, {
      itemName, resultKind: item?.resultKind ?? 'licence', nodeCode: this.node.config.code,
      handlerName: await this.unitName(view.currentHandlerCode),
    })
    return { outcome: 'found', progress }
  }

  /**
   * Answers a lookup: from this store, else from below. The per-case limit is checked before
   * anything is read and counted on every answer that is not `found`.
   */
  async answer(ask: LinkAsk): Promise<LinkAnswer> {
    const wait = this.perCase.blockedFor(ask.caseId)
    if (wait) return limitedFor(wait)
    const answer = (await this.local(ask)) ?? (await this.fromBelow(ask))
    if (answer.outcome === 'not-found') this.perCase.hit(ask.caseId)
    return answer
  }

  private async fromBelow(ask: LinkAsk): Promise<LinkAnswer> {
    const child = childTowards(this.node.config.code, ask.caseId.slice(0, 12))
    if (!child || !this.askChild) return { outcome: 'not-found' }
    return this.askChild(child, ask)
  }

  async unitName(code: string): Promise<string> {
    if (code === this.node.config.code) return this.node.config.name
    return this.node.trust.unit(code)?.name ?? (await this.node.stats.names())[code] ?? code
  }
}
