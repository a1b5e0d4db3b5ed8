/**
 * The node's processes run from one JavaScript bundle of the TypeScript sources, built once by
 * esbuild (at `npm ci`: the `prepare` script), instead of compiling the sources through tsx at
 * every start: tsx keeps two esbuild service processes (~50 MB) and a loader thread beside every
 * node, for the node's whole life. The bundle is rebuilt when a source it was built from changed
 * (each input's mtime and size are kept beside it), so an edited tree never runs stale code.
 *
 *   node scripts/bundle.mjs      build dist/ now (what `prepare` runs)
 *
 * The two modules the web UI gets from the node (nodes/core/http/ui-bundles.json: the pure protocol/
 * and the y-websocket client) are built here too, into dist/ui/, so a node serving its UI needs no
 * esbuild either.
 *
 * Only the project's own sources are bundled: packages stay imports from node_modules (PGlite
 * finds its WASM beside its own module), and files read at run time (migrations, the UI, the
 * sample catalogue) are read from the checkout, where the sources' `import.meta.url` points.
 * Plain JavaScript, so it runs before anything is compiled.
 */
import { execFileSync } from 'node:child_process'
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { dirname, join, relative, resolve, sep } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..')
export const DIST = join(ROOT, 'dist')
/** The bundles: process entry points (dist/<name>.mjs ← source). */
export const ENTRIES = { tongban: 'nodes/core/cli/run.ts', 'make-template': 'nodes/core/cli/make-template.ts' }
/** Every source file a bundle was built from, with its mtime and size when the build began. */
const INPUTS = join(DIST, 'inputs.json')
/** The folders holding the sources a bundle can include. */
const SOURCE_DIRS = ['nodes', 'protocol', 'catalogue', 'scripts']
/** The web UI's generated modules: what they hold and how they are built (shared with http/routes-ui.ts). */
const UI_BUNDLES = JSON.parse(readFileSync(join(ROOT, 'nodes/core/http/ui-bundles.json'), 'utf8'))
export const UI_DIST = join(DIST, 'ui')

const statOf = (path) => {
  try {
    const s = statSync(path)
    return [s.mtimeMs, s.size]
  } catch {
    return null
  }
}

/** True when dist/ holds bundles built from the sources as they are now. */
export function isFresh() {
  let recorded
  try {
    recorded = JSON.parse(readFileSync(INPUTS, 'utf8'))
  } catch {
    return false
  }
  for (const name of Object.keys(ENTRIES)) if (!statOf(join(DIST, `${name}.mjs`))) return false
  for (const name of Object.keys(UI_BUNDLES.bundles)) if (!statOf(join(UI_DIST, name))) return false
  for (const [path, was] of Object.entries(recorded.inputs)) {
    const now = statOf(join(ROOT, path))
    if (!now || now[0] !== was[0] || now[1] !== was[1]) return false
  }
  return true
}

/**
 * The bundle for `name` built from the current sources (built first in a child process if it is
 * missing or stale: esbuild's service then ends with that child), or null if it cannot be built —
 * the caller then runs the sources through tsx as before.
 */
export function freshBundle(name) {
  if (!isFresh()) {
    try {
      execFileSync(process.execPath, [fileURLToPath(import.meta.url)], { stdio: ['ignore', 'ignore', 'pipe'] })
    } catch (e) {
      process.stderr.write(`tongban: building dist/ failed, running the sources through tsx instead: ${e.stderr?.toString().trim() || e.message}\n`)
      return null
    }
  }
  return pathToFileURL(join(DIST, `${name}.mjs`)).href
}

/** Every file under the source folders, with its mtime and size, before the build reads any. */
function statSources() {
  const out = new Map()
  const walk = (dir) => {
    for (const e of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
      const rel = join(dir, e.name)
      if (e.isDirectory()) walk(rel)
      else out.set(rel.split(sep).join('/'), statOf(join(ROOT, rel)))
    }
  }
  for (const d of SOURCE_DIRS) walk(d)
  return out
}

/**
 * A source's `import.meta.url` keeps meaning that source's own file: node.ts finds the project
 * root from it, migrate.ts the migrations beside it. In the bundle it becomes the source's URL
 * relative to the bundle, so a checkout moved elsewhere still finds its files.
 */
const IMPORT_META_URL = /\bimport\.meta\.url\b/
const IMPORT_META_URL_ALL = new RegExp(IMPORT_META_URL.source, 'g')
const keepImportMetaUrl = {
  name: 'keep-import-meta-url',
  setup(b) {
    b.onLoad({ filter: /\.([cm]?ts|mjs)$/ }, (args) => {
      if (args.path.includes(`${sep}node_modules${sep}`)) return undefined
      const text = readFileSync(args.path, 'utf8')
      if (!IMPORT_META_URL.test(text)) return undefined
      const rel = relative(DIST, args.path).split(sep).join('/')
      return { contents: text.replace(IMPORT_META_URL_ALL, `new URL(${JSON.stringify(rel)}, $&).href`), loader: args.path.endsWith('.mjs') ? 'js' : 'ts' }
    })
  },
}

/** Builds every bundle into dist/, each file written aside and renamed into place, the input list last. */
export async function build() {
  const before = statSources()
  const { build: esbuild } = await import('esbuild')
  const tmp = join(DIST, `.build-${process.pid}`)
  rmSync(tmp, { recursive: true, force: true })
  mkdirSync(tmp, { recursive: true })
  try {
    const result = await esbuild({
      entryPoints: Object.fromEntries(Object.entries(ENTRIES).map(([name, src]) => [name, join(ROOT, src)])),
      outdir: tmp, outExtension: { '.js': '.mjs' }, bundle: true, platform: 'node', format: 'esm', target: 'node20',
      absWorkingDir: ROOT, packages: 'external', metafile: true, logLevel: 'error', legalComments: 'none', plugins: [keepImportMetaUrl],
      banner: { js: '// Built by scripts/bundle.mjs from the TypeScript sources: do not edit, it is rebuilt when they change.' },
    })
    mkdirSync(join(tmp, 'ui'))
    const ui = await Promise.all(Object.entries(UI_BUNDLES.bundles).map(([name, spec]) => esbuild({
      ...UI_BUNDLES.options, absWorkingDir: ROOT, outfile: join(tmp, 'ui', name), metafile: true, logLevel: 'error',
      stdin: { contents: spec.contents, resolveDir: ROOT, loader: spec.loader, sourcefile: `ui-${name}` },
    })))
    const inputs = {}
    for (const path of [result, ...ui].flatMap((r) => Object.keys(r.metafile.inputs))) {
      if (Object.keys(UI_BUNDLES.bundles).some((name) => path === `ui-${name}`)) continue // a UI bundle's own contents
      const rel = path.split(sep).join('/')
      // A source that appeared while building counts as changed: the next start rebuilds.
      // Packages' files (node_modules) do not change while building: stat them now.
      inputs[rel] = before.get(rel) ?? (SOURCE_DIRS.some((d) => rel.startsWith(`${d}/`)) ? [0, 0] : statOf(join(ROOT, rel)) ?? [0, 0])
    }
    for (const name of Object.keys(ENTRIES)) renameSync(join(tmp, `${name}.mjs`), join(DIST, `${name}.mjs`))
    mkdirSync(UI_DIST, { recursive: true })
    for (const name of Object.keys(UI_BUNDLES.bundles)) renameSync(join(tmp, 'ui', name), join(UI_DIST, name))
    writeFileSync(join(tmp, 'inputs.json'), JSON.stringify({ inputs }))
    renameSync(join(tmp, 'inputs.json'), INPUTS)
  } finally {
    rmSync(tmp, { recursive: true, force: true })
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await build()
