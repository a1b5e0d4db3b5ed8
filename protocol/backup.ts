/**
 * The backup file of a node's data dir (`tongban backup` / `tongban restore --from`):
 *
 *   "TBAK1\n" • gzip(manifest JSON • "\n" • every file's bytes, in the manifest's order) • SHA-256 of all before it
 *
 * The trailing hash tells a damaged or cut file before anything is written; each file's own
 * hash, that what was unpacked is what was packed. The manifest is read like any input: paths
 * are relative and stay inside the data dir, sizes add up.
 */
import { z } from 'zod'
import { LEVELS } from './division.ts'

export const BACKUP_MAGIC = 'TBAK1\n'
export const BACKUP_HASH_BYTES = 32

/** A path inside the data dir: relative, `/`-separated, no `.`/`..` segment, nothing odd. */
const RelPath = z.string().min(1).max(512).refine(
  (p) => !p.startsWith('/') && !p.includes('\\') && p.split('/').every((s) => s !== '' && s !== '.' && s !== '..') && !/[\u0000-\u001f]/.test(p),
  'a backed-up path is relative and stays inside the data dir',
)

export const BackupManifestSchema = z.object({
  format: z.literal(1),
  node: z.object({ level: z.enum(LEVELS), code: z.string().regex(/^\d{12}$/), name: z.string().max(200) }),
  createdAt: z.string().max(40),
  /** Every directory, empty ones too (a Postgres data dir needs its empty pg_* directories). */
  dirs: z.array(RelPath).max(1_000_000),
  files: z.array(z.object({
    path: RelPath,
    size: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
    mode: z.number().int().min(0).max(0o777),
  })).max(1_000_000),
}).strict()
export type BackupManifest = z.infer<typeof BackupManifestSchema>
