/** Starts a whole node: store, app (with its preset), and the HTTP server. */
import { createApp } from './http/app.ts'
import { openNode, type NodeConfig, type TongbanNode } from './node.ts'
import { PRESETS } from './presets.ts'
import { listen, type Served } from './server.ts'

export interface RunningNode {
  node: TongbanNode
  url: string
  port: number
  stop(): Promise<void>
}

export async function startNode(flags: NodeConfig, port = 0, host = '127.0.0.1'): Promise<RunningNode> {
  const preset = PRESETS[flags.level]
  const config = { ...preset.defaults, ...stripUndefined(flags) } as NodeConfig
  const node = await openNode(config)
  let served: Served
  try {
    served = await listen(createApp(node, { extend: preset.extend }), port, host)
  } catch (e) {
    await node.close()
    throw e
  }
  let stopping: Promise<void> | null = null
  return {
    node, url: served.url, port: served.port,
    stop: () => (stopping ??= served.close().then(() => node.close())),
  }
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>
}
