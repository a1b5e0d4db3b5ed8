/**
 * Scanned materials (附件): what a case's `attached` event says of a file, which files are taken
 * (PDF, JPEG, PNG — told by their first bytes, not by what the sender calls them), the limits,
 * and how a file is cut into pieces for the link's attachment lane (PROTOCOL.md, "Attachments").
 * Pure: the node stores and moves the bytes; this says what they must be.
 */
import { z } from 'zod'

export const ATTACHMENT_MIMES = ['application/pdf', 'image/jpeg', 'image/png'] as const
export type AttachmentMime = (typeof ATTACHMENT_MIMES)[number]

/** A file travels in pieces of this size (the last one shorter): a piece frame stays ~16 KB. */
export const PIECE_BYTES = 16 * 1024

/** No attachment is larger than this, whatever a node's setting says (a piece count stays small). */
export const MAX_ATTACHMENT_BYTES = 64 * 1024 * 1024

/**
 * Default limits (a node's setting may lower or raise them, up to MAX_ATTACHMENT_BYTES): a page
 * shrunk in the browser is 150–300 KB; a multi-page PDF scan a few MB.
 */
export const DEFAULT_ATTACHMENT_LIMITS = { perFileBytes: 10 * 1024 * 1024, perCaseBytes: 40 * 1024 * 1024, perCaseFiles: 50 }
export type AttachmentLimits = typeof DEFAULT_ATTACHMENT_LIMITS

/** SHA-256 of the file's bytes, 64 lowercase hex digits: its name everywhere (stored once). */
export const AttachmentHashSchema = z.string().regex(/^[0-9a-f]{64}$/, 'an attachment is named by the SHA-256 of its bytes: 64 lowercase hex digits')

/** The `attached` event: a file added to the case, named by its hash; no change of status. */
export const AttachedInputSchema = z.object({
  type: z.literal('attached'),
  hash: AttachmentHashSchema,
  size: z.number().int().min(1).max(MAX_ATTACHMENT_BYTES),
  mime: z.enum(ATTACHMENT_MIMES),
  /** The file's name as the agent chose it (shown on the case page). */
  name: z.string().trim().min(1, '附件需要文件名 (an attachment needs a file name)').max(200),
  /** Which of the item's materials it shows (absent: not said). */
  material: z.string().trim().min(1).max(100).optional(),
})
export type AttachedInput = z.infer<typeof AttachedInputSchema>

/** `POST /api/cases/:id/attachments?name=…&material=…`: the body is the file's bytes. */
export const AttachmentUploadQuerySchema = z.object({
  name: z.string({ error: '请给附件一个文件名 (name: the file name is required)' }).trim().min(1, '请给附件一个文件名 (name: the file name is required)').max(200),
  material: z.string().trim().min(1).max(100).optional(),
})

/** The file's type from its first bytes, or null when it is none of PDF, JPEG, PNG. */
export function sniffMime(bytes: Uint8Array): AttachmentMime | null {
  const starts = (sig: number[]) => bytes.length >= sig.length && sig.every((b, i) => bytes[i] === b)
  if (starts([0x25, 0x50, 0x44, 0x46, 0x2d])) return 'application/pdf' // %PDF-
  if (starts([0xff, 0xd8, 0xff])) return 'image/jpeg'
  if (starts([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return 'image/png'
  return null
}

/** How many pieces a file of `size` bytes travels in. */
export const pieceCount = (size: number): number => Math.ceil(size / PIECE_BYTES)

/** The length of the piece at `offset` of a file of `size` bytes (0 when `offset` is not a piece's start). */
export function pieceLength(size: number, offset: number): number {
  if (!Number.isSafeInteger(offset) || offset < 0 || offset >= size || offset % PIECE_BYTES !== 0) return 0
  return Math.min(PIECE_BYTES, size - offset)
}

/**
 * The offsets a receiver still lacks of a file of `size`, in order, given those it holds: it asks
 * for these and nothing else, so a cut resumes where it was and no held piece comes twice.
 */
export function missingPieces(size: number, held: Iterable<number>): number[] {
  const have = new Set(held)
  const out: number[] = []
  for (let at = 0; at < size; at += PIECE_BYTES) if (!have.has(at)) out.push(at)
  return out
}

/** What the case page shows of an attachment at this node. */
export type AttachmentState = 'held' | 'arriving' | 'missing'
