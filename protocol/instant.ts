/**
 * A moment as a peer writes it into a signed value (an application's createdAt, an event's at):
 * ISO 8601 with its offset, from the year 1900 on. The ISO format alone lets the year 0000
 * through, which PostgreSQL's timestamptz refuses: a village-signed application dated so failed
 * the projection, so its frame was never applied or acknowledged and the link resent it for ever.
 */
import { z } from 'zod'

export const InstantSchema = z.iso.datetime({ offset: true }).refine((v) => v >= '1900', 'a date and time from 1900 on')
