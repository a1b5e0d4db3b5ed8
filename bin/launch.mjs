/**
 * Runs one of the project's process entries (scripts/bundle.mjs ENTRIES): from the bundle in
 * dist/, rebuilt first if a source changed since it was built; or, if it cannot be built, from
 * the TypeScript sources through tsx. TONGBAN_TSX=1 always runs the sources (stack traces name
 * the .ts files).
 */
import { ENTRIES, freshBundle } from '../scripts/bundle.mjs'

export async function launch(name) {
  const bundle = process.env.TONGBAN_TSX === '1' ? null : freshBundle(name)
  if (bundle) {
    await import(bundle)
    return
  }
  const { register } = await import('tsx/esm/api')
  register()
  await import(new URL(`../${ENTRIES[name]}`, import.meta.url).href)
}
