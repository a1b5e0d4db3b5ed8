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
  const r = schema.safeParse(input)
  if (r.success) return r.data
  const issues = r.error.issues.map((i) => ({ field: i.path.join('.') || '(body)', message: i.message }))
  const text = issues.map((i) => `${i.field}: ${i.message}`).join('; ')
  throw new ApiError('invalid_input', `invalid ${what} — ${text}`, { issues })
}
