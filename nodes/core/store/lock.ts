/**
 * The data dir lock: two PGlite processes on one data dir corrupt it, and PGlite takes no lock
 * of its own. The lock file holds the owner's pid; a lock whose process is gone is stale and taken over.
 */
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs'
import { join } from 'node:path'

export class DataDirLockedError extends Error {}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Takes the lock on `dir` or throws DataDirLockedError naming the process that holds it. */
export function lockDataDir(dir: string): { release(): void } {
  const path = join(dir, 'tongban.lock')
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx')
      writeSync(fd, String(process.pid))
      closeSync(fd)
      let released = false
      return {
        release() {
          if (released) return
          released = true
          try {
            if (readFileSync(path, 'utf8') === String(process.pid)) unlinkSync(path)
          } catch {
            /* already gone */
          }
        },
      }
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e
      const pid = Number(readFileSync(path, 'utf8'))
      if (pid && pid !== process.pid && alive(pid)) {
        throw new DataDirLockedError(`data dir ${dir} is in use by process ${pid}; stop that node first (two processes on one store corrupt it)`)
      }
      unlinkSync(path) // stale: its process is gone
    }
  }
  throw new DataDirLockedError(`could not take the lock on ${dir}`)
}

/** The pid of the live process holding `dir`'s lock (a running node), or null when none does. */
export function lockOwner(dir: string): number | null {
  let pid: number
  try {
    pid = Number(readFileSync(join(dir, 'tongban.lock'), 'utf8'))
  } catch {
    return null
  }
  return pid && pid !== process.pid && alive(pid) ? pid : null
}
