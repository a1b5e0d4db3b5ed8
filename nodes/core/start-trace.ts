/**
 * Start-up spans: with TONGBAN_START_TRACE=1 a node prints how long each step of its start took
 * (`[start] migrate 12 ms`), so a slow warm start (issue 11: a county of 250,000 cases) shows
 * which step grew with the store. Off, it costs one comparison per step.
 */
const on = process.env.TONGBAN_START_TRACE === '1'
let last = performance.now()

/** Marks the end of a step: the time since the previous mark, on stderr when tracing. */
export function startSpan(step: string): void {
  if (!on) return
  const now = performance.now()
  process.stderr.write(`[start] ${step} ${(now - last).toFixed(0)} ms (${(now / 1000).toFixed(2)} s since the process began)\n`)
  last = now
}
