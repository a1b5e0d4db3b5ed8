/**
 * V8 settings for a node process, chosen by its level before its store is opened.
 *
 * A village or township runs PGlite's WASM with V8's baseline compiler (Liftoff) only. By default
 * V8 also recompiles PGlite's hot functions with its optimising compiler (TurboFan) in background
 * threads; their compile memory stays behind in those threads' malloc arenas, 40–75 MB of a
 * settled node's RSS (measured with /proc/<pid>/smaps: PGlite alone settled at 159–199 MB by
 * default, 119–132 MB with Liftoff only, and was ready sooner). A small node's queries touch a few
 * thousand rows, where baseline code is fast enough; a county or city (250,000 cases, dashboards)
 * keeps the optimising tier, as does a node on PostgreSQL (no WASM).
 *
 * A township also asks TurboFan for the node's own JavaScript later: a function is optimised
 * after 8× V8's default interrupt budget of bytecode run. A township's work comes in bursts (a
 * village's catch-up of a thousand cases), and in such a burst V8 compiled ~100 functions of the
 * receive path (zod, Yjs, the fold, the journal) on its worker threads: a perf record of the
 * township put 19–21 % of its CPU during a 1,000-case catch-up in TurboFan, also after a first
 * catch-up of 1,000 cases had warmed it (BENCHMARKS.md, "Session 7: the receiver in the node").
 * With the larger budget the hottest functions are still optimised and the rest stay in V8's
 * baseline code (Sparkplug): the township's threads other than the main one went from 0.35–0.53
 * to 0.14–0.18 ms of CPU a case; its main thread was not clearly slower (noisy runs, load 1.4–4).
 *
 * The flags must be set before the first WASM module is compiled (V8 reads --liftoff-only at
 * compile time; the budget is read as functions run): the store is the process's only WASM, so
 * the CLI calls this before it opens the store. TONGBAN_WASM_TIER_UP=1 keeps the optimising WASM
 * tier, TONGBAN_JS_TIER_UP=1 V8's default budget, at every level (to compare).
 */
import { setFlagsFromString } from 'node:v8'
import type { Level } from '../../../protocol/index.ts'

export const BASELINE_WASM_LEVELS: readonly Level[] = ['village', 'township']
/** Levels whose JavaScript is optimised later than V8's default (see above). */
export const LATE_JS_TIER_UP_LEVELS: readonly Level[] = ['township']
/** 8× V8's default `--interrupt-budget` (67,584 in Node 20's V8 11.3). */
export const LATE_JS_INTERRUPT_BUDGET = 8 * 67_584

/** The V8 flags a node of `level` runs with (pure: for tests; `tuneEngine` sets them). */
export function engineFlags(level: Level, onPostgres: boolean, env: Record<string, string | undefined> = process.env): string[] {
  const flags: string[] = []
  if (!onPostgres && BASELINE_WASM_LEVELS.includes(level) && env.TONGBAN_WASM_TIER_UP !== '1') flags.push('--liftoff-only')
  if (LATE_JS_TIER_UP_LEVELS.includes(level) && env.TONGBAN_JS_TIER_UP !== '1') flags.push(`--interrupt-budget=${LATE_JS_INTERRUPT_BUDGET}`)
  return flags
}

/** Sets the flags of `engineFlags` in this process; returns them (for the log and tests). */
export function tuneEngine(level: Level, onPostgres: boolean): string[] {
  const flags = engineFlags(level, onPostgres)
  for (const f of flags) setFlagsFromString(f)
  return flags
}
