/**
 * An event's case is part of what its author signed (`case`, since the events' second version):
 * without it, a peer holding a unit's signed decision on one case could copy it into another,
 * and it would verify there too — a forged decision (SECURITY.md, "replayed events").
 *
 * Events signed before that (stored in every case of a tree that ran the first version) name no
 * case. They are believed on two conditions that bound what a copy can do:
 * - dated no later than `unboundUntil` (the node's upgrade plus a grace period for the rest of
 *   the tree to upgrade, node_meta `events_bound_since`): an up-to-date node never signs one,
 *   and a node still signing them after the grace period is refused and told why;
 * - dated no earlier than a day before the case was taken in (clocks differ between units): a
 *   decision cannot predate its case. So a case taken in after the grace period takes no
 *   unbound event at all.
 *
 * Pure: the caller supplies the case and the limit.
 */

/** Days after a node's upgrade during which it still takes unbound events dated then. */
export const UNBOUND_GRACE_DAYS = 30

const DAY_MS = 86_400_000

/** The latest date of an unbound event a node upgraded at `boundSince` believes (ms since the epoch). */
export function unboundUntil(boundSince: string): number {
  return Date.parse(boundSince) + UNBOUND_GRACE_DAYS * DAY_MS
}

/** Why `ev` may not stand in case `caseId` (taken in at `caseCreatedAt`), or null when it may. */
export function eventCaseProblem(
  ev: { id: string; at: string; case?: string },
  kase: { id: string; createdAt: string },
  until: number,
): string | null {
  if (ev.case !== undefined) return ev.case === kase.id ? null : `event ${ev.id} was signed for case ${ev.case}, not for ${kase.id}`
  const at = Date.parse(ev.at)
  if (at > until) {
    return `event ${ev.id} names no case and is dated ${ev.at}, after ${new Date(until).toISOString()}: events signed since then name their case (its author runs a version too old to link: upgrade it)`
  }
  if (at < Date.parse(kase.createdAt) - DAY_MS) return `event ${ev.id} names no case and is dated ${ev.at}, before case ${kase.id} was taken in`
  return null
}
