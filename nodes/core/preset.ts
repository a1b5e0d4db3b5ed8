/**
 * A preset is what one level adds to the core: defaults and routes, never a second server.
 * nodes/<level>/index.ts each export one.
 */
import type { Hono } from 'hono'
import type { Level } from '../../protocol/index.ts'
import type { AppEnv } from './http/env.ts'
import type { NodeConfig } from './node.ts'

export interface Preset {
  level: Level
  /** Defaults applied under the flags given on the command line. */
  defaults: Partial<NodeConfig>
  /** Routes the level adds. */
  extend?: (app: Hono<AppEnv>) => void
}
