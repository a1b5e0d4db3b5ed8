/**
 * Closing a WebSocket without letting the close itself throw. `ws.close(code, reason)` throws
 * synchronously on a reason over 123 bytes of UTF-8 or a code it does not allow; a reason
 * often quotes what a peer sent (a document id, a message), so an uncut reason let one frame
 * end the process. Every ws.close in the node goes through here.
 */
import type { WebSocket } from 'ws'
import { closeReason } from '../../../protocol/index.ts'

export function closeSocket(ws: WebSocket, code: number, reason: string): void {
  try {
    ws.close(code, closeReason(reason))
  } catch {
    // Only a code ws refuses can still get here: the socket must go anyway.
    try {
      ws.terminate()
    } catch {
      /* already gone */
    }
  }
}
