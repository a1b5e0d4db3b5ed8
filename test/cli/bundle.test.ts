/**
 * bin/tongban.mjs runs the bundle in dist/ (scripts/bundle.mjs), never a stale one: in a copy of
 * the sources, the first run builds it, a run after a source changed runs the changed code, and
 * the build leaves no compiler process behind. Also which levels run PGlite's WASM on the
 * baseline compiler only (cli/engine.ts).
 */
import { execFile } from 'node:child_process'
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { engineFlags, LATE_JS_INTERRUPT_BUDGET, tuneEngine } from '../../nodes/core/cli/engine.ts'
import { PROJECT_ROOT } from '../../nodes/core/node.ts'

const run = (root: string, args: string[], env: Record<string, string> = {}) =>
  new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(process.execPath, [join(root, 'bin/tongban.mjs'), ...args], { cwd: root, timeout: 120_000, env: { ...process.env, ...env } }, (err, stdout, stderr) =>
      resolve({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }))
  })

describe('the bundle the CLI runs', () => {
  let root: string
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'tongban-bundle-'))
    for (const d of ['bin', 'scripts', 'nodes', 'protocol', 'catalogue']) cpSync(join(PROJECT_ROOT, d), join(root, d), { recursive: true })
    cpSync(join(PROJECT_ROOT, 'package.json'), join(root, 'package.json'))
    symlinkSync(join(PROJECT_ROOT, 'node_modules'), join(root, 'node_modules'))
  })
  afterAll(() => rmSync(root, { recursive: true, force: true }))

  it('is built at the first run, from the sources and with the UI modules', async () => {
    expect(existsSync(join(root, 'dist'))).toBe(false)
    const r = await run(root, ['--help'])
    expect(r.code).toBe(0)
    expect(r.stdout).toContain('tongban — 通办')
    expect(r.stderr).toBe('')
    for (const f of ['tongban.mjs', 'make-template.mjs', 'inputs.json', 'ui/protocol.js', 'ui/live.js']) expect(existsSync(join(root, 'dist', f))).toBe(true)
    const inputs = Object.keys(JSON.parse(readFileSync(join(root, 'dist/inputs.json'), 'utf8')).inputs)
    expect(inputs).toContain('nodes/core/cli/main.ts')
    expect(inputs).toContain('protocol/case.ts')
  })

  it('runs a changed source at the next run, not the bundle built before it changed', async () => {
    const main = join(root, 'nodes/core/cli/main.ts')
    writeFileSync(main, readFileSync(main, 'utf8').replace('tongban — 通办: one node', 'tongban — 通办 (changed): one node'))
    const r = await run(root, ['--help'])
    expect(r.code).toBe(0)
    expect(r.stdout).toContain('通办 (changed)')
    expect(readFileSync(join(root, 'dist/tongban.mjs'), 'utf8')).toContain('(changed): one node')
  })

  it('a source that no longer builds falls back to tsx, which says what is wrong', async () => {
    const demo = join(root, 'nodes/core/cli/demo.ts')
    writeFileSync(demo, readFileSync(demo, 'utf8') + '\nexport const broken = (\n')
    const r = await run(root, ['--help'])
    expect(r.stderr).toContain('building dist/ failed, running the sources through tsx instead')
    expect(r.code).not.toBe(0) // tsx cannot load it either
  })

  it('TONGBAN_TSX=1 runs the sources through tsx', async () => {
    const demo = join(root, 'nodes/core/cli/demo.ts')
    writeFileSync(demo, readFileSync(join(PROJECT_ROOT, 'nodes/core/cli/demo.ts'), 'utf8'))
    const main = join(root, 'nodes/core/cli/main.ts')
    writeFileSync(main, readFileSync(main, 'utf8').replace('通办 (changed)', '通办 (through tsx)'))
    const r = await run(root, ['--help'], { TONGBAN_TSX: '1' })
    expect(r.code).toBe(0)
    expect(r.stdout).toContain('通办 (through tsx)')
    expect(readFileSync(join(root, 'dist/tongban.mjs'), 'utf8')).not.toContain('(through tsx)') // not rebuilt
  })
})

describe('the V8 compilers a node runs with', () => {
  it('a county, a city and any node on PostgreSQL keep the optimising WASM tier', () => {
    // A village or township sets --liftoff-only in its own process (not in this test worker's).
    expect(tuneEngine('county', false)).toEqual([])
    expect(tuneEngine('city', false)).toEqual([])
    expect(tuneEngine('village', true)).toEqual([])
    expect(engineFlags('township', true, {})).not.toContain('--liftoff-only')
  })

  it('a village or township on PGlite runs its WASM on the baseline tier; a township optimises its JavaScript later; the environment can turn each off', () => {
    const late = `--interrupt-budget=${LATE_JS_INTERRUPT_BUDGET}`
    expect(engineFlags('village', false, {})).toEqual(['--liftoff-only'])
    expect(engineFlags('township', false, {})).toEqual(['--liftoff-only', late])
    expect(engineFlags('township', true, {})).toEqual([late])
    expect(engineFlags('county', false, {})).toEqual([])
    expect(engineFlags('city', false, {})).toEqual([])
    expect(engineFlags('township', false, { TONGBAN_WASM_TIER_UP: '1' })).toEqual([late])
    expect(engineFlags('township', false, { TONGBAN_JS_TIER_UP: '1' })).toEqual(['--liftoff-only'])
    expect(LATE_JS_INTERRUPT_BUDGET).toBeGreaterThan(67_584) // later than V8's default
  })
})
