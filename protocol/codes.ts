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
  /** An attachment that is not PDF, JPEG or PNG (told by its bytes). */
  unsupported_type: 415,
  rate_limited: 429,
  internal: 500,
  unavailable: 503,
} as const
export type ApiErrorCode = keyof typeof API_ERRORS

/** The body of every error response: `{error: {code, message}}`. */
export interface ApiErrorBody {
  error: { code: ApiErrorCode; message: string; details?: unknown }
}

/**
 * Link frame types (protocol/PROTOCOL.md): the first varUint of every frame on the parent–child
 * link. 0 is never used, so a zeroed buffer is refused rather than read as a frame.
 */
export const LINK_FRAME_TYPES = {
  /** Once each way on connect: version, who I am (code, role, store epoch), my cursor of yours, my latest. */
  hello: 1,
  /** A batch of stored updates `{seq, docId, update}`, the body possibly deflate-raw compressed. */
  updates: 2,
  /** Cumulative: every update of yours up to this sequence is applied and stored here. */
  ack: 3,
  /** Repair pass, as y-protocols: here is my state vector of this document… */
  'sync-step1': 4,
  /** …and here is what you lack of it (the answer to a step 1). */
  'sync-step2': 5,
  /** Keepalive; carries the sender's clock, echoed by the pong to measure the round trip. */
  ping: 6,
  pong: 7,
  /** The close code and a message, sent just before closing, so the peer can log why. */
  error: 8,
  /** One piece of a message larger than a frame (a big sync-step2), reassembled by the receiver. */
  chunk: 9,
  /** A question to the peer (its JSON body: protocol/progress.ts), with the asker's id for the answer. */
  ask: 10,
  /** The answer to an ask, carrying its id. */
  answer: 11,
  /** Attachment lane: the receiver asks for one piece of a file named by a case it holds (attachments.ts). */
  'piece-want': 12,
  /** The piece asked for (empty, with total 0, when the sender will not or cannot give it). */
  piece: 13,
} as const
export type LinkFrameType = keyof typeof LINK_FRAME_TYPES

/**
 * WebSocket close codes of the link (and the `error` frame's code). 4xxx mirror the HTTP status
 * a person would expect (4400 ~ 400 Bad Request); 1000 and 1001 are the standard ones.
 */
export const LINK_CLOSE_CODES = {
  /** The link is done with (a test, an orderly shutdown of one link). */
  normal: 1000,
  /** The node is stopping; the peer redials with backoff. */
  going_away: 1001,
  /** A frame that does not parse, fails a check, or comes out of order (anything before hello). */
  malformed_frame: 4400,
  /** The child is not enrolled at this parent, or its token is wrong or revoked. */
  unauthorized: 4401,
  /** The peer is not the node this link belongs to (hello's code), or not directly above/below. */
  out_of_scope: 4403,
  /** Nothing heard from the peer for PEER_TIMEOUT_MS: the keepalive gave up. */
  timeout: 4408,
  /** The peer speaks another link protocol version: upgrade one side. */
  version_mismatch: 4409,
  /** A newer connection from the same node took this link over. */
  replaced: 4410,
  /** A frame over MAX_FRAME_BYTES, a message over MAX_MESSAGE_BYTES, or too many chunk streams. */
  frame_too_large: 4413,
  /**
   * The peer used more than its hourly quota on this link (new documents, bytes, repair passes,
   * state vectors to answer): the frame is not applied; the peer redials and resends it later.
   */
  quota_exceeded: 4429,
  /** This node failed (a store error): not the peer's fault; it redials later. */
  internal: 4500,
} as const
export type LinkCloseName = keyof typeof LINK_CLOSE_CODES
export type LinkCloseCode = (typeof LINK_CLOSE_CODES)[LinkCloseName]
