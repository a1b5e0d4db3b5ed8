/**
 * `tongban demo`: a real tree of 15 node processes on loopback (1 city, 2 counties, 4
 * townships, 8 villages), each with its own data dir, enrolled with its parent, the sample
 * catalogue published at the city. Prints every URL and the logins; Ctrl-C stops them all.
 */
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { LEVEL_NAMES_ZH, ROLE_NAMES_ZH, type Role } from '../../../protocol/index.ts'
import { PROJECT_ROOT } from '../node.ts'
import { tellDemoStory } from './demo-story.ts'
import { DEMO_PASSWORD, demoUsers, startTree, stopTree } from './tree.ts'

export async function runDemo(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { data: { type: 'string' }, 'base-port': { type: 'string' } }, strict: true })
  const root = values.data ?? join(PROJECT_ROOT, 'demo-data')
  const basePort = Number(values['base-port'] ?? 7100)
  process.stdout.write(`starting the demo tree in ${root} (a first start initialises one store and copies it for all 15)…\n`)
  const fresh = !existsSync(root)
  const nodes = await startTree(root, undefined, { basePort })
  for (const n of nodes) {
    const indent = { city: '', county: '  ', township: '    ', village: '      ' }[n.level]
    const logins = demoUsers(n.level).map((u) => `${u.name}(${u.department ?? ROLE_NAMES_ZH[u.role as Role]})`).join(' ')
    process.stdout.write(`${indent}${LEVEL_NAMES_ZH[n.level]} ${n.name} ${n.code}  ${n.url}  ${logins}\n`)
  }
  // On a fresh tree, two 通办 cases to look at (a cross-county case and a transfer).
  if (fresh) {
    process.stdout.write('\n')
    await tellDemoStory(nodes, (line) => process.stdout.write(line + '\n')).catch((e) => process.stdout.write(`(the 通办 example cases were not made: ${(e as Error).message})\n`))
  }
  process.stdout.write(`\nlogin at any URL with the user shown and password ${DEMO_PASSWORD}; Ctrl-C stops every node\n`)
  process.stdout.write(`every node serves https with a self-signed certificate made in its data dir (the links pin it), so the browser warns once per node: accept it to go on\n`)
  await new Promise<void>((resolve) => {
    const stop = () => {
      process.stdout.write('stopping…\n')
      void stopTree(nodes).then(resolve)
    }
    process.once('SIGINT', stop)
    process.once('SIGTERM', stop)
  })
  return 0
}
