/**
 * The Lamport clock a restored store signs from. A store restored from a backup lost the events
 * it signed after the backup; its peers still hold them, and refuse as back-dated a new event of
 * its on the same case whose clock is not above them. Until its links have brought the case back
 * it counts from what it still holds, so `tongban restore` raises a floor under every clock it
 * signs: the seconds since 2026-01-01 at the restore. A case's clocks grow by one an event, so
 * the events lost (and the floor of any earlier restore plus its case's events since) sit far
 * below it, and it stays within a 32-bit integer (protocol MAX_LAMPORT) until the 2090s.
 */
import type { Queryable } from '../store/db.ts'

const FLOOR_EPOCH_MS = Date.parse('2026-01-01T00:00:00Z')

/** Raises the floor at a restore (never lowers it). */
export async function raiseLamportFloor(db: Queryable, now = new Date()): Promise<void> {
  const floor = Math.max(1, Math.floor((now.getTime() - FLOOR_EPOCH_MS) / 1000))
  await db.query(
    `INSERT INTO node_meta (key, value) VALUES ('lamport_floor', $1)
     ON CONFLICT (key) DO UPDATE SET value = greatest(node_meta.value::bigint, EXCLUDED.value::bigint)::text`, [String(floor)])
}

/** The floor under this node's next clock (0: never restored). */
export async function lamportFloor(db: Queryable): Promise<number> {
  const [row] = await db.query<{ value: string }>(`SELECT value FROM node_meta WHERE key = 'lamport_floor'`)
  return row ? Number(row.value) : 0
}
