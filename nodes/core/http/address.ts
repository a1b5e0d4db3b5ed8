/**
 * The address of the client, from the Node server's socket ('local' under `app.request`).
 * X-Forwarded-For is not trusted: a node is served directly, not behind a proxy, and a header
 * the client writes would let it pick a fresh address for every guess.
 */
export function clientAddress(env: unknown): string {
  const incoming = (env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined)?.incoming
  return incoming?.socket?.remoteAddress ?? 'local'
}
