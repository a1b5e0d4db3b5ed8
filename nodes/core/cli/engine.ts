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
 * The flag must be set before the first WASM module is compiled (V8 reads it at compile time):
 * the store is the process's only WASM, so the CLI calls this before it opens the store.
 * TONGBAN_WASM_TIER_UP=1 keeps the optimising tier at every level (to compare).
 */
import { setFlagsFromString } from 'node:v8'
import type { Level } from '../../../protocol/index.ts'

export const BASELINE_WASM_LEVELS: readonly Level[] = ['village', 'township']

/** Returns the V8 flags it set (for the log and tests). */
export function tuneEngine(level: Level, onPostgres: boolean): string[] {
  if (onPostgres || !BASELINE_WASM_LEVELS.includes(level) || process.env.TONGBAN_WASM_TIER_UP === '1') return []
  setFlagsFromString('--liftoff-only')
  return ['--liftoff-only']
}
