/**
 * What replicates where (design.md's table), as pure decisions both ends of a link share:
 * the sender uses them to choose what to stream, the receiver to refuse what it may not take.
 *
 * - a case goes only to nodes on its path (case-path.ts): from its origin (where it was taken
 *   in) up to the lowest common ancestor of origin and handler, then down to the handler — and
 *   after a transfer, to every handler it has had; never to a node off that path;
 * - catalogue documents go down from their publisher to every descendant, never up;
 * - a node's statistics go up to every ancestor, never down;
 * - the unit directory (codes, names and public keys: no personal data) goes everywhere, each
 *   entry checked against its voucher's signature on arrival.
 */
import { onCasePath, type CaseRoute } from './case-path.ts'
import { isInSubtree, levelOfCode, levelRank, parentCode } from './division.ts'
import { escrowChildMayWrite, escrowParentMayWrite, escrowSendsDown, escrowSendsUp } from './escrow.ts'

export type DocRef =
  | ({ kind: 'case' } & CaseRoute)
  | { kind: 'catalogue'; scope: string }
  /** `rollup`: the unit's rollup of its subtree (protocol/stats-rollup.ts), not its own raw counts. */
  | { kind: 'stats'; nodeCode: string; rollup?: boolean }
  | { kind: 'directory' }
  /** A unit's sealed escrow of its own cases (protocol/escrow.ts): up one level, back to the unit only. */
  | { kind: 'escrow'; nodeCode: string }
  /** 电子监察: a unit's warnings (protocol/supervision.ts), up like statistics. */
  | { kind: 'watch'; nodeCode: string }
  /** 督办: a notice from an issuer to a unit of its subtree, and its replies (protocol/notice.ts). */
  | { kind: 'notice'; issuer: string; target: string }

/** Is `code` on the line between a notice's issuer and its target (both included)? */
const onNoticeLine = (code: string, n: { issuer: string; target: string }): boolean => isInSubtree(n.target, code) && isInSubtree(code, n.issuer)

/** Should a node send this document up to its parent `parent`? */
export function sendsUp(parent: string, doc: DocRef): boolean {
  if (doc.kind === 'escrow') return escrowSendsUp(parent, doc.nodeCode)
  if (doc.kind === 'case') return onCasePath(parent, doc)
  // Statistics go up one level only, raw or rolled up: the parent sums them into its own
  // rollup, and what it forwards of a descendant's (an older child's) is in that sum.
  if (doc.kind === 'stats') return parentCode(doc.nodeCode) === parent
  if (doc.kind === 'watch') return isInSubtree(doc.nodeCode, parent) && doc.nodeCode !== parent
  if (doc.kind === 'notice') return onNoticeLine(parent, doc)
  return doc.kind === 'directory'
}

/** Should a node send this document down to its child `child`? */
export function sendsDown(child: string, doc: DocRef): boolean {
  if (doc.kind === 'escrow') return escrowSendsDown(child, doc.nodeCode)
  if (doc.kind === 'case') return onCasePath(child, doc)
  if (doc.kind === 'catalogue') return isInSubtree(child, doc.scope) && child !== doc.scope
  if (doc.kind === 'notice') return onNoticeLine(child, doc)
  return doc.kind === 'directory'
}

/**
 * May `child` write this document to its parent `parent`? Returns null, or why not. A case
 * crosses a link only when both ends are on its path: up from the origin, and — when the
 * handler is in another subtree — up from the handler's side with the decision. (Each event's
 * author is checked separately: see `mayAuthorFrom`; an application the parent does not hold
 * yet must come from the origin's side: see the link's checks.)
 */
export function childMayWrite(parent: string, child: string, doc: DocRef): string | null {
  if (doc.kind === 'catalogue') return 'a child never sends catalogue changes up'
  if (doc.kind === 'escrow') return escrowChildMayWrite(parent, child, doc.nodeCode)
  if (doc.kind === 'directory') return null // each entry's voucher is checked against the child's subtree
  if (doc.kind === 'stats') {
    // A rollup speaks for a whole subtree: only its own unit may write it.
    if (doc.rollup) return doc.nodeCode === child ? null : `the statistics rollup of ${doc.nodeCode} is written by that unit only, not by ${child}`
    return isInSubtree(doc.nodeCode, child) ? null : `statistics of ${doc.nodeCode} are not in ${child}'s subtree`
  }
  if (doc.kind === 'watch') return isInSubtree(doc.nodeCode, child) ? null : `the warnings of ${doc.nodeCode} are not in ${child}'s subtree`
  if (doc.kind === 'notice') {
    if (!onNoticeLine(child, doc) || !onNoticeLine(parent, doc)) return `the notice from ${doc.issuer} to ${doc.target} does not pass ${child} → ${parent}`
    return null // each value is checked: from below, only the target's signed replies
  }
  if (!onCasePath(child, doc)) return `${child} is not on the path of the case (${describeRoute(doc)})`
  if (!onCasePath(parent, doc)) return `${parent} is not on the path of the case (${describeRoute(doc)})`
  return null
}

/** May `parent` write this document to its child `child`? Returns null, or why not. */
export function parentMayWrite(child: string, doc: DocRef): string | null {
  if (doc.kind === 'stats') return 'statistics never go down'
  if (doc.kind === 'escrow') return escrowParentMayWrite(child, doc.nodeCode)
  if (doc.kind === 'watch') return 'warnings (电子监察) never go down'
  if (doc.kind === 'notice') return onNoticeLine(child, doc) ? null : `the notice from ${doc.issuer} to ${doc.target} does not reach ${child}`
  if (doc.kind === 'directory') return null // each entry is checked against its voucher's signature
  if (doc.kind === 'catalogue') return isInSubtree(child, doc.scope) ? null : `catalogue of ${doc.scope} does not cover ${child}`
  return onCasePath(child, doc) ? null : `${child} is not on the path of the case (${describeRoute(doc)})`
}

const describeRoute = (r: CaseRoute): string => `${r.originCode} → ${r.handlers.join(' → ')}`

/** May an event authored at `author` arrive through a link from `sender` (a child)? Only from the sender's subtree. */
export function mayAuthorFrom(sender: string, author: string): boolean {
  return isInSubtree(author, sender)
}

/** Depth of a code in the tree (city 0 … village 3), or -1 for an invalid code. */
export function depth(code: string): number {
  const l = levelOfCode(code)
  return typeof l === 'string' ? levelRank(l) : -1
}
