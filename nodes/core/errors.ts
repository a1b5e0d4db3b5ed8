/** The one error type services throw; the HTTP layer turns it into `{error: {code, message}}`. */
import type { z } from 'zod'
import { API_ERRORS, type ApiErrorCode } from '../../protocol/index.ts'

export class ApiError extends Error {
  readonly status: number
  constructor(readonly code: ApiErrorCode, message: string, readonly details?: unknown) {
    super(message)
    this.status = API_ERRORS[code]
  }
}

/** Parses `input` with `schema`, or throws a 400 naming every field at fault. */
export function parseOr400<S extends z.ZodType>(schema: S, input: unknown, what: string): z.infer<S> {
  // Postgres text cannot hold NUL: refuse it here, naming the field, before it reaches a store.
  const nul = findNul(input, '', 0)
  if (nul !== null) {
    const field = nul || '(body)'
    throw new ApiError('invalid_input', `invalid ${what} — ${field}: contains a NUL character (\\u0000), which cannot be stored; remove it`, { issues: [{ field, message: 'contains a NUL character' }] })
  }
  const r = schema.safeParse(input)
  if (r.success) return r.data
  const issues = r.error.issues.map((i) => ({ field: i.path.join('.') || '(body)', message: i.message }))
  const text = issues.map((i) => `${i.field}: ${i.message}`).join('; ')
  throw new ApiError('invalid_input', `invalid ${what} — ${text}`, { issues })
}

/** The path of the first string (or key) holding U+0000 in `v`, or null. Bounded: deeper than 64 levels is not searched (no schema here nests that deep). */
function findNul(v: unknown, path: string, depth: number): string | null {
  if (typeof v === 'string') return v.includes('\u0000') ? path : null
  if (depth > 64 || v === null || typeof v !== 'object') return null
  for (const [k, x] of Object.entries(v)) {
    const p = path ? `${path}.${k}` : k
    if (k.includes('\u0000')) return p.replaceAll('\u0000', '\\0')
    const hit = findNul(x, p, depth + 1)
    if (hit !== null) return hit
  }
  return null
}
