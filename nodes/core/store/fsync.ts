/** fsync for whole directory trees: the piece of durability PGlite leaves to us. */
import { open, readdir } from 'node:fs/promises'
import { join } from 'node:path'

/** fsyncs every regular file and directory below `dir`. */
export async function fsyncTree(dir: string): Promise<void> {
  const entries = await readdir(dir, { withFileTypes: true })
  for (const e of entries) {
    const p = join(dir, e.name)
    if (e.isDirectory()) await fsyncTree(p)
    else if (e.isFile()) await fsyncPath(p)
  }
  await fsyncPath(dir)
}

export async function fsyncPath(path: string): Promise<void> {
  const fh = await open(path, 'r')
  try {
    await fh.sync()
  } finally {
    await fh.close()
  }
}
