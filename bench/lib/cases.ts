/**
 * Realistic cases for the link benchmarks, shared by our side (bench/link-bench.ts takes them in
 * through a village's HTTP API) and the peers (bench/peers/*.ts put the same JSON into a Y.Map,
 * PouchDB docs, an Automerge doc), so every row of the tables carries the same applications.
 *
 * A case is an `Application` as protocol/case.ts defines it, exactly as a village (511302101201)
 * writes it at intake for a township-level item (handled by 511302101000): deterministic in its
 * index, so the same N always gives the same bytes. Items rotate over the township items of the
 * sample catalogue with their required materials (as intake demands); applicants get common
 * surnames and given names, a resident id number with a valid check digit and a mobile number.
 *
 * Size: the fields alone (names, codes, id, timestamps) are ~290 bytes of JSON; with the sample
 * catalogue's materials (all in Chinese, 3 bytes a character) a case is 360–490 bytes, ~420 on
 * average — "cases of ~300 bytes" in the issue is the low end; `rawJsonBytes` gives the exact figure.
 */
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import type { Application } from '../../protocol/index.ts'

export const BENCH_VILLAGE = '511302101201'
export const BENCH_TOWNSHIP = '511302101000'
/** The day the offline intake happens (ids carry it, as the node's `nextId` writes them). */
const BASE_TIME = Date.UTC(2026, 10, 23, 0, 30, 0) // 2026-11-23 08:30 in UTC+8

interface CatalogueItem { code: string; level: string; kind: 'instant' | 'promised'; promisedDays: number; version: number; retired?: boolean; materials: { name: string; required: boolean }[] }

let itemsCache: CatalogueItem[] | null = null
/** The township items of the sample catalogue, in catalogue order. */
export function townshipItems(): CatalogueItem[] {
  if (!itemsCache) {
    const sample = JSON.parse(readFileSync(new URL('../../catalogue/sample.json', import.meta.url), 'utf8')) as { items: CatalogueItem[] }
    itemsCache = sample.items.filter((i) => i.level === 'township' && !i.retired)
  }
  return itemsCache
}

const SURNAMES = ['王', '李', '张', '刘', '陈', '杨', '黄', '赵', '吴', '周', '徐', '孙', '马', '朱', '胡', '郭', '何', '罗', '高', '林', '郑', '梁', '谢', '宋', '唐', '邓', '冯', '韩', '曹', '彭']
const GIVEN = ['秀英', '桂英', '秀兰', '玉兰', '建华', '建国', '志强', '德明', '红', '伟', '芳', '敏', '静', '强', '军', '勇', '艳', '杰', '娟', '涛', '明', '超', '霞', '平', '刚', '丽', '文', '华', '国华', '春梅', '海燕', '永福', '长生', '金花']
/** Township area codes of 南充市顺庆区 style ids (the first six digits of a resident id). */
const AREAS = ['511302', '511303', '511304', '511321', '511322']
const MOBILE = ['134', '135', '136', '137', '138', '139', '150', '151', '152', '157', '158', '159', '177', '180', '181', '182', '183', '187', '188', '189', '199']
const WEIGHTS = [7, 9, 10, 8, 9, 3, 4, 2, 2, 3, 5, 2]

/** A small deterministic hash of (i, salt) → [0, 2^32). */
function h(i: number, salt: number): number {
  let x = Math.imul(i + 1, 0x9e3779b1) ^ Math.imul(salt + 7, 0x85ebca6b)
  x = Math.imul(x ^ (x >>> 15), 0x2c1b3c6d)
  x = Math.imul(x ^ (x >>> 12), 0x297a2d39)
  return (x ^ (x >>> 15)) >>> 0
}

function residentId(i: number): string {
  const area = AREAS[h(i, 1) % AREAS.length]
  const year = 1940 + (h(i, 2) % 66)
  const month = 1 + (h(i, 3) % 12)
  const day = 1 + (h(i, 4) % 28)
  const seq = String(h(i, 5) % 1000).padStart(3, '0')
  const body = `${area}${year}${String(month).padStart(2, '0')}${String(day).padStart(2, '0')}${seq}`
  const w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
  let sum = 0
  for (let k = 0; k < 17; k++) sum += Number(body[k]) * w[k]
  return body + '10X98765432'[sum % 11]
}

/** The item a case i is for: a fixed, weighted rotation (more 低保 and 救助 than 殡葬). */
function itemFor(i: number): CatalogueItem {
  const items = townshipItems()
  const weights = items.map((_, k) => WEIGHTS[k % WEIGHTS.length])
  const total = weights.reduce((a, b) => a + b, 0)
  let r = h(i, 6) % total
  for (let k = 0; k < items.length; k++) {
    if (r < weights[k]) return items[k]
    r -= weights[k]
  }
  return items[0]
}

export interface CaseOptions { origin?: string; handler?: string; createdBy?: string }

/** Case number i (0-based) as the village writes it at intake. */
export function makeCase(i: number, opts: CaseOptions = {}): Application {
  const origin = opts.origin ?? BENCH_VILLAGE
  const item = itemFor(i)
  const at = new Date(BASE_TIME + i * 7_000)
  const day = at.toISOString().slice(0, 10).replaceAll('-', '')
  return {
    id: `${origin}-${day}-${String(i + 1).padStart(4, '0')}`,
    itemCode: item.code,
    itemVersion: item.version,
    applicant: {
      name: SURNAMES[h(i, 7) % SURNAMES.length] + GIVEN[h(i, 8) % GIVEN.length],
      idType: 'resident-id',
      idNumber: residentId(i),
      phone: MOBILE[h(i, 9) % MOBILE.length] + String(h(i, 10) % 100_000_000).padStart(8, '0'),
    },
    materials: item.materials.filter((m) => m.required).map((m) => m.name),
    originCode: origin,
    handlerCode: opts.handler ?? BENCH_TOWNSHIP,
    createdAt: at.toISOString(),
    createdBy: opts.createdBy ?? 'agent',
    kind: item.kind,
    promisedDays: item.promisedDays,
    // As incompressible as the origin's Ed25519 signature a node adds (86 base64url characters),
    // so the peers carry what the node carries.
    sig: createHash('sha512').update(`case ${origin} ${i}`).digest('base64url'),
  }
}

export function makeCases(n: number, opts: CaseOptions = {}): Application[] {
  return Array.from({ length: n }, (_, i) => makeCase(i, opts))
}

/** What the agent posts to `POST /api/cases` for case i (the node adds id, codes, times). */
export function intakeBody(i: number): { itemCode: string; applicant: Application['applicant']; materials: string[] } {
  const c = makeCase(i)
  return { itemCode: c.itemCode, applicant: c.applicant, materials: c.materials }
}

/** Sum of `JSON.stringify(case)` in UTF-8 bytes: the "raw JSON" every table compares against. */
export function rawJsonBytes(cases: readonly unknown[]): number {
  let total = 0
  for (const c of cases) total += Buffer.byteLength(JSON.stringify(c))
  return total
}
