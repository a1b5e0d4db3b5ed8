/** Small trees of real node processes for benchmarks (the same spawn as the tests use). */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Level } from '../../protocol/index.ts'
import { spawnNode, type TreeNode } from '../../nodes/core/cli/tree.ts'
import { enrollChild } from '../../nodes/core/link/enrollment.ts'
import { pinToken } from '../../nodes/core/link/token.ts'
import { trustNode } from '../../test/helpers/tls.ts'

export const BENCH_PASSWORD = 'bench-password'

export async function benchNode(root: string, level: Level, code: string, parent?: { node: TreeNode; url: string }, opts: { catalogue?: string; port?: number } = {}): Promise<TreeNode> {
  const dataDir = join(root, code)
  mkdirSync(dataDir, { recursive: true })
  const role = level === 'village' ? 'agent' : 'staff'
  writeFileSync(join(dataDir, 'users.seed.json'), JSON.stringify([{ name: role, role, password: BENCH_PASSWORD }]))
  const token = parent ? pinToken(enrollChild(parent.node.dataDir, parent.node.code, code), parent.node.dataDir) : undefined
  // Over TLS like the nodes in the field (the link emulator is a TCP proxy: TLS passes through).
  const n = await spawnNode({ level, code, name: code, dataDir, port: opts.port ?? 0, parentUrl: parent?.url.replace(/^http:/, 'https:'), token, catalogue: opts.catalogue })
  trustNode(dataDir)
  return n
}
