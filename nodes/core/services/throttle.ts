/**
 * Fixed-window attempt counting by key (a user name, a client address, a case number), used to
 * slow down guessing: login passwords and the public progress lookup's phone numbers.
 * In memory, per process: a restart forgets the counts, which costs an attacker a restart they
 * cannot cause. Bounded: expired windows are dropped, and past `maxKeys` the oldest keys go.
 */
export class Throttle {
  private readonly windows = new Map<string, { start: number; n: number }>()

  constructor(
    readonly limit: number,
    readonly windowMs: number,
    private readonly now: () => number = () => Date.now(),
    private readonly maxKeys = 50_000,
  ) {}

  /** Milliseconds until `key` may try again; 0 when it may now. Counts nothing. */
  blockedFor(key: string): number {
    const w = this.live(key)
    return w && w.n >= this.limit ? Math.max(1, this.windowMs - (this.now() - w.start)) : 0
  }

  /** Counts one attempt of `key`. */
  hit(key: string): void {
    let w = this.live(key)
    if (!w) {
      this.prune()
      this.windows.set(key, (w = { start: this.now(), n: 0 }))
    }
    w.n++
  }

  /** Forgets `key` (a successful login, an administrator's reset). */
  clear(key: string): void {
    this.windows.delete(key)
  }

  private live(key: string) {
    const w = this.windows.get(key)
    if (w && this.now() - w.start >= this.windowMs) {
      this.windows.delete(key)
      return undefined
    }
    return w
  }

  private prune(): void {
    if (this.windows.size < 10_000) return
    const t = this.now()
    for (const [k, w] of this.windows) if (t - w.start >= this.windowMs) this.windows.delete(k)
    // Still too many (keys rotated faster than windows expire): drop the oldest.
    for (const k of this.windows.keys()) {
      if (this.windows.size < this.maxKeys) break
      this.windows.delete(k)
    }
  }
}

/** Whole minutes (at least 1) in `ms`, for a message a person reads. */
export const minutesOf = (ms: number) => Math.max(1, Math.ceil(ms / 60_000))
