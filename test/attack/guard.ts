/**
 * Shared by the attack suite: a process-wide collector of unhandled rejections and uncaught
 * exceptions (any one is a test failure: nothing a peer sends may end a node), and bounded
 * waiting for a condition (no wall-clock assertions: tests wait for what they expect, up to a
 * generous limit).
 */
import { afterAll, expect } from 'vitest'

/** Collects what would have ended the process; asserts none at the end of the file. */
export function failOnUnhandled(): { seen: unknown[] } {
  const seen: unknown[] = []
  const onRejection = (e: unknown) => seen.push(e)
  const onException = (e: unknown) => seen.push(e)
  process.on('unhandledRejection', onRejection)
  process.on('uncaughtException', onException)
  afterAll(() => {
    process.off('unhandledRejection', onRejection)
    process.off('uncaughtException', onException)
    expect(seen.map((e) => (e as Error)?.stack ?? String(e))).toEqual([])
  })
  return { seen }
}

/** Waits until `cond()` holds, polling; throws after `timeoutMs` saying what it waited for. */
export async function waitFor(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (let i = 0; Date.now() < deadline && i < 100_000; i++) {
    if (await cond()) return
    await new Promise((r) => setTimeout(r, 20))
  }
  throw new Error(`waited ${timeoutMs} ms for ${what}`)
}
