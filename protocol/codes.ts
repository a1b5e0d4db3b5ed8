/**
 * Every set of codes the system speaks, each kept once: API error codes (with their HTTP
 * status), and — for the link — frame types and close codes.
 */

/** API error codes and the HTTP status each answers with. */
export const API_ERRORS = {
  bad_request: 400,
  invalid_input: 400,
  missing_materials: 400,
  unauthenticated: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  transition_refused: 409,
  item_retired: 409,
  payload_too_large: 413,
  internal: 500,
  unavailable: 503,
} as const
export type ApiErrorCode = keyof typeof API_ERRORS

/** The body of every error response: `{error: {code, message}}`. */
export interface ApiErrorBody {
  error: { code: ApiErrorCode; message: string; details?: unknown }
}
