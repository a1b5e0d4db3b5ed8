/** The Hono environment every route shares: the node, and the user the bearer token names. */
import type { Role } from '../../../protocol/index.ts'
import type { TongbanNode } from '../node.ts'

export interface AppEnv {
  Variables: {
    node: TongbanNode
    user: { name: string; role: Role }
  }
}
