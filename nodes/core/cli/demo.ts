/** `tongban demo`: a working node on the embedded store, with a login, for a first look. */
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { PROJECT_ROOT } from '../node.ts'
import { startNode } from '../start.ts'

export async function runDemo(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { data: { type: 'string' }, port: { type: 'string' } }, strict: true })
  const dir = values.data ?? join(PROJECT_ROOT, 'demo-data')
  mkdirSync(dir, { recursive: true })
  const running = await startNode({ level: 'city', code: '511300000000', name: '南充市', dataDir: join(dir, 'city') }, Number(values.port ?? 0))
  const users = await running.node.users.list()
  if (!users.some((u) => u.name === 'admin')) await running.node.users.add({ name: 'admin', role: 'admin', password: 'tongban-demo' })
  if (!users.some((u) => u.name === 'staff')) await running.node.users.add({ name: 'staff', role: 'staff', password: 'tongban-demo' })
  process.stdout.write(`tongban city 511300000000 listening on ${running.url}\n`)
  process.stdout.write(`  login: admin / tongban-demo (管理员), staff / tongban-demo (窗口工作人员)\n  stop: Ctrl-C\n`)
  await new Promise<void>((resolve) => {
    const stop = () => void running.stop().then(resolve)
    process.once('SIGINT', stop)
    process.once('SIGTERM', stop)
  })
  return 0
}
