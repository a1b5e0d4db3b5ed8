/**
 * A moment as a peer writes it into a signed value (an application's createdAt, an event's at):
 * ISO 8601 with its offset, in the years 1900–2999. The ISO format alone lets the year 0000
 * through, which PostgreSQL's timestamptz refuses: a village-signed application dated so failed
 * the projection, so its frame was never applied or acknowledged and the link resent it for ever.
 * (The upper bound keeps a due date counted from it — up to ten years on — a four-digit year.)
 */
import { z } from 'zod'

export const InstantSchema = z.iso.datetime({ offset: true }).refine((v) => v >= '1900' && v < '3000', 'a date and time in the years 1900–2999')
