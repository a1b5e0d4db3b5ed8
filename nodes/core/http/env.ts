/** The Hono environment every route shares: the node, and the user the bearer token names. */
import type { TongbanNode } from '../node.ts'
import type { SessionUser } from '../services/users.ts'

export interface AppEnv {
  Variables: {
    node: TongbanNode
    user: SessionUser
  }
}
