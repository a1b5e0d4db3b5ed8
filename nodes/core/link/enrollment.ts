/**
 * Enrollment: a parent accepts a link only from a child it has enrolled. `tongban child add`
 * writes the child's code and the SHA-256 of a fresh token into `<data>/enrollments.json`
 * (a file, so it works while the parent runs and holds its store's lock); the token is shown
 * once and given to the child's operator, who starts the child with `--parent URL --token T`.
 * Re-enrolling a code replaces its token.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parentCode } from '../../../protocol/index.ts'

interface Enrollment {
  code: string
  tokenHash: string
  createdAt: string
}

const file = (dataDir: string) => join(dataDir, 'enrollments.json')
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex')

function read(dataDir: string): Enrollment[] {
  return existsSync(file(dataDir)) ? (JSON.parse(readFileSync(file(dataDir), 'utf8')) as Enrollment[]) : []
}

/** Enrolls `child` below `self`; returns the one-time token. Throws when the child is not directly below. */
export function enrollChild(dataDir: string, self: string, child: string): string {
  if (parentCode(child) !== self) throw new Error(`${child} is not directly below ${self}: a node enrolls only its own children`)
  const token = `${child}.${randomBytes(24).toString('base64url')}`
  const list = read(dataDir).filter((e) => e.code !== child)
  list.push({ code: child, tokenHash: sha256(token), createdAt: new Date().toISOString() })
  // Written to a temp file, synced, renamed, and the directory synced: the token printed is the
  // one a power cut leaves behind.
  const tmp = file(dataDir) + '.tmp'
  writeFileSync(tmp, JSON.stringify(list, null, 2))
  syncPath(tmp)
  renameSync(tmp, file(dataDir))
  syncPath(dataDir)
  return token
}

/** The enrolled child a token belongs to, or null. */
export function verifyChild(dataDir: string, self: string, code: string, token: string): boolean {
  if (parentCode(code) !== self) return false
  const e = read(dataDir).find((x) => x.code === code)
  if (!e) return false
  const a = Buffer.from(e.tokenHash, 'hex')
  const b = Buffer.from(sha256(token), 'hex')
  return a.length === b.length && timingSafeEqual(a, b)
}

export function enrolledChildren(dataDir: string): string[] {
  return read(dataDir).map((e) => e.code)
}

function syncPath(path: string): void {
  const fd = openSync(path, 'r')
  try {
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}
