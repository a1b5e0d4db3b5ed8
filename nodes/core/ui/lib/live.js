/**
 * The live case view: the node's y-websocket endpoint (/live/case/<id>) streams the case's Yjs
 * document as it changes, and awareness shows who else has the case open (首问负责: who holds
 * it). The view is read-only; actions still go through the API, where the rules are enforced.
 */
import { session } from './api.js'
import { ctx } from './ctx.js'

/**
 * Connects to the live view of case `id`. `onChange()` runs when the case changes after the
 * first sync; `onPeers(list)` when the people looking at it change. Returns `{ close, acting }`.
 */
export async function liveCase(id, { onChange, onPeers }) {
  const { WebsocketProvider, Y } = await import('/ui/gen/live.js')
  const doc = new Y.Doc()
  const base = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/live/case`
  const provider = new WebsocketProvider(base, id, doc, { params: { token: session.get()?.token ?? '' }, disableBc: true, maxBackoffTime: 10_000 })
  const awareness = provider.awareness
  awareness.setLocalStateField('user', { name: ctx.user.name, role: ctx.user.role, since: new Date().toISOString() })
  let synced = false
  provider.on('sync', (s) => {
    synced = s
  })
  doc.on('update', () => {
    if (synced) onChange()
  })
  const peers = () => [...awareness.getStates().entries()]
    .filter(([clientId, s]) => clientId !== doc.clientID && s?.user)
    .map(([, s]) => ({ ...s.user, acting: s.acting ?? null }))
    .sort((a, b) => (a.since < b.since ? -1 : 1))
  awareness.on('change', () => onPeers(peers()))
  return {
    /** Tells the others what this user is doing on the case (null: just looking). */
    acting(type) {
      awareness.setLocalStateField('acting', type)
    },
    close() {
      awareness.setLocalState(null)
      provider.destroy()
      doc.destroy()
    },
  }
}
