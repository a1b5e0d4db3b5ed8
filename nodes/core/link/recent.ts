/**
 * Figures that cost queries (what waits for a peer, bytes of scans waiting, the province's
 * outbox), kept for the routes polled every few seconds: `/healthz` (the UI banner) and
 * `/api/sync`. A figure is counted again when it is older than `maxAgeMs` or when the store
 * changed since it was counted (`changed()`: a stored update, a peer's acknowledgement), so a
 * poll of an idle node reads no table at all — a county of 250,000 cases answered in 15–35 ms
 * while it counted on every poll (BENCHMARKS.md) — and never shows a count older than a change
 * it could have seen. Concurrent polls share one count.
 */
export class RecentFigures<V> {
  private readonly held = new Map<string, { at: number; version: number; value: V }>()
  private readonly counting = new Map<string, { version: number; value: Promise<V> }>()
  private version = 0

  /** `maxKeys`: peers are few (a township has tens of villages); a bound all the same. */
  constructor(private readonly maxAgeMs = 1_000, private readonly maxKeys = 1_000) {}

  /** Something the figures count changed: the next read counts again. */
  changed(): void {
    this.version++
  }

  async get(key: string, count: () => Promise<V>): Promise<V> {
    const h = this.held.get(key)
    if (h && h.version === this.version && performance.now() - h.at < this.maxAgeMs) return h.value
    const running = this.counting.get(key)
    if (running && running.version === this.version) return running.value
    // The age runs from the start of the count: a change during it bumps the version anyway.
    const version = this.version
    const at = performance.now()
    const value = count().then((v) => {
      if (!this.held.has(key) && this.held.size >= this.maxKeys) this.held.delete(this.held.keys().next().value as string)
      const cur = this.held.get(key)
      if (!cur || cur.at <= at) this.held.set(key, { at, version, value: v })
      return v
    }).finally(() => {
      if (this.counting.get(key)?.value === value) this.counting.delete(key)
    })
    this.counting.set(key, { version, value })
    return value
  }
}
