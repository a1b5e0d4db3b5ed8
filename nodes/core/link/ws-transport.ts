/**
 * A link session's transport over a WebSocket. Closing is polite (a close frame, `closeSocket`)
 * except for a peer that fell silent: it cannot answer a close handshake, and ws would wait 30 s
 * for its close frame before 'close' fires — so a village behind a line cut without a reset
 * redialled 25–29 s after the line came back (bench/link-netns.ts). That socket is dropped now.
 */
import { WebSocket } from 'ws'
import { LINK_CLOSE_CODES } from '../../../protocol/index.ts'
import { closeSocket } from './close.ts'
import type { Transport } from './session.ts'

export function wsTransport(ws: WebSocket): Transport {
  return {
    send: (b) => {
      if (ws.readyState === WebSocket.OPEN) ws.send(b)
    },
    close: (code, reason) => {
      if (code === LINK_CLOSE_CODES.timeout) ws.terminate()
      else closeSocket(ws, code, reason)
    },
  }
}
