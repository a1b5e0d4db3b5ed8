/** Starts a whole node: store, app (with its preset), links, live views, and the HTTP server. */
import { Hono } from 'hono'
import { createApp } from './http/app.ts'
import type { AppEnv } from './http/env.ts'
import { Links } from './link/links.ts'
import { upgradeRouter } from './link/upgrade.ts'
import { LiveViews } from './live/live-view.ts'
import { openNode, type NodeConfig, type TongbanNode } from './node.ts'
import { PRESETS } from './presets.ts'
import { listen, type Served } from './server.ts'

export interface RunningNode {
  node: TongbanNode
  links: Links
  url: string
  port: number
  stop(): Promise<void>
}

export async function startNode(flags: NodeConfig, port = 0, host = '127.0.0.1'): Promise<RunningNode> {
  const preset = PRESETS[flags.level]
  const config = { ...preset.defaults, ...stripUndefined(flags) } as NodeConfig
  const node = await openNode(config)
  const links = new Links(node, await parentOf(node))
  const live = new LiveViews(node)
  const upgrade = upgradeRouter(links, live)
  let served: Served
  try {
    const app = createApp(node, {
      extend: (a) => {
        a.route('/api/sync', new Hono<AppEnv>().get('/', async (c) => c.json(await links.status())))
        preset.extend?.(a)
      },
      health: async () => ({ sync: await links.summary() }),
    })
    served = await listen(app, port, host, upgrade)
  } catch (e) {
    await node.close()
    throw e
  }
  links.start()
  let stopping: Promise<void> | null = null
  return {
    node, links, url: served.url, port: served.port,
    stop: () => (stopping ??= (async () => {
      await links.stop()
      live.close()
      upgrade.close()
      await served.close()
      await node.close()
    })()),
  }
}

/**
 * The parent link: from --parent/--token on first start, remembered in the store so a restart
 * needs no flags; new flags replace the remembered ones.
 */
async function parentOf(node: TongbanNode): Promise<{ url: string; token: string } | null> {
  const { parentUrl, token } = node.config
  if (parentUrl && token) {
    for (const [key, value] of [['parent_url', parentUrl], ['parent_token', token]]) {
      await node.db.query('INSERT INTO node_meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value', [key, value])
    }
    return { url: parentUrl, token }
  }
  const rows = await node.db.query<{ key: string; value: string }>(`SELECT key, value FROM node_meta WHERE key IN ('parent_url', 'parent_token')`)
  const m = Object.fromEntries(rows.map((r) => [r.key, r.value]))
  return m.parent_url && m.parent_token ? { url: m.parent_url, token: m.parent_token } : null
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>
}
