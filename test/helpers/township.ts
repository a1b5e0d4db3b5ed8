/**
 * A township node in this process with a one-item catalogue (T-001, promised, one required
 * material) on a real PGlite store and a real HTTP server: what the live-view and
 * public-lookup suites take cases in on.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { startNode, type RunningNode } from '../../nodes/core/start.ts'
import { pgliteTemplate } from './template.ts'

const ONE_ITEM = {
  items: [{ code: 'T-001', name: '测试事项', department: '便民服务中心', level: 'township', kind: 'promised', legalDays: 10, promisedDays: 5, materials: [{ name: '申请书', required: true }] }],
  calendars: [],
}

export async function startOneItemTownship(dir: string): Promise<RunningNode> {
  writeFileSync(join(dir, 'cat.json'), JSON.stringify(ONE_ITEM))
  return startNode({ level: 'township', code: '511302101000', name: '镇', dataDir: join(dir, 'node'), catalogue: join(dir, 'cat.json'), loadDataDir: await pgliteTemplate() })
}
