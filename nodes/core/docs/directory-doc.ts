/**
 * The unit directory (单位目录) as a Yjs document: one append-only array of signed entries
 * (protocol/trust.ts), the same document at every node of the tree. Entries are only appended —
 * a revocation is a later entry — so no peer ever needs to delete from it, and none may.
 */
import type * as Y from 'yjs'
import { DirectoryEntrySchema, type DirectoryEntry } from '../../../protocol/index.ts'

export const DIRECTORY_DOC = 'directory:tree'

export function readEntries(doc: Y.Doc): DirectoryEntry[] {
  return doc.getArray<unknown>('entries').toArray().filter((e): e is DirectoryEntry => DirectoryEntrySchema.safeParse(e).success)
}

export function appendEntry(doc: Y.Doc, e: DirectoryEntry): void {
  doc.getArray<DirectoryEntry>('entries').push([e])
}
