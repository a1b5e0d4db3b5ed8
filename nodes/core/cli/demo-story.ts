/**
 * The demo's two 通办 cases, made once on a fresh demo tree through the nodes' own HTTP API (the
 * same calls a browser makes), so a new user finds them in the UI at once:
 * - 异地办理: a 高坪区 (county 2) matter taken in at 长青村 (a village of 顺庆区), travelling up to
 *   the city and down to 高坪区, which accepts it;
 * - 转办: a county matter taken in at 长青村 for 顺庆区, transferred by 顺庆区 to 高坪区 with a reason.
 * Each request goes to a demo node over https pinned to the certificate in its data dir.
 */
import { pinnedFetch } from '../link/tls-client.ts'
import { servingFingerprint } from '../tls.ts'
import { DEMO_PASSWORD, type TreeNode } from './tree.ts'

const VILLAGE = '511302101201' // 长青村, 潆溪镇, 顺庆区
const COUNTY1 = '511302000000' // 顺庆区
const COUNTY2 = '511303000000' // 高坪区

type Call = (method: string, path: string, body?: unknown) => Promise<{ status: number; body: any }>

async function as(node: TreeNode, name: string): Promise<Call> {
  const fingerprint = servingFingerprint(node.dataDir)
  const raw = async (method: string, path: string, body: unknown, token?: string) => {
    const res = await pinnedFetch(node.url + path, {
      method,
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    }, fingerprint)
    return { status: res.status, body: await res.json().catch(() => null) }
  }
  const login = await raw('POST', '/api/login', { name, password: DEMO_PASSWORD })
  if (login.status !== 200) throw new Error(`demo login as ${name} at ${node.name} failed: ${login.status}`)
  return (method, path, body) => raw(method, path, body, login.body.token)
}

/** Polls `probe` until it holds, at most `ms` (the link carries the case between the nodes). */
async function until(what: string, probe: () => Promise<boolean>, ms = 60_000): Promise<void> {
  const end = Date.now() + ms
  while (Date.now() < end) {
    if (await probe().catch(() => false)) return
    await new Promise((r) => setTimeout(r, 250))
  }
  throw new Error(`the demo story waited ${ms / 1000} s for ${what}`)
}

/** Makes the two cases and says where to look; lines go to `say`. Returns their numbers. */
export async function tellDemoStory(nodes: TreeNode[], say: (line: string) => void): Promise<{ crossCounty: string; transferred: string }> {
  const at = (code: string) => {
    const n = nodes.find((x) => x.code === code)
    if (!n) throw new Error(`the demo tree has no node ${code}`)
    return n
  }
  const agent = await as(at(VILLAGE), 'agent')
  const county1 = await as(at(COUNTY1), 'staff')
  const county2 = await as(at(COUNTY2), 'staff')
  await until('the catalogue and the unit directory at 长青村', async () => {
    const items = (await agent('GET', '/api/catalogue')).body?.items ?? []
    const units = (await agent('GET', `/api/units?level=county`)).body?.units ?? []
    return items.some((i: any) => i.level === 'county') && units.some((u: any) => u.code === COUNTY2)
  })
  const item = (await agent('GET', '/api/catalogue')).body.items.find((i: any) => i.level === 'county' && i.kind === 'promised')
  const materials = item.materials.filter((m: any) => m.required).map((m: any) => m.name)

  const cross = await agent('POST', '/api/cases', {
    itemCode: item.code, handlerCode: COUNTY2, materials,
    applicant: { name: '周明（示例）', idType: 'resident-id', idNumber: '511303199202020024', phone: '13811112222' },
  })
  if (cross.status !== 201) throw new Error(`demo intake failed: ${JSON.stringify(cross.body)}`)
  await until(`case ${cross.body.id} at 高坪区`, async () => (await county2('GET', `/api/cases/${cross.body.id}`)).status === 200)
  await county2('POST', `/api/cases/${cross.body.id}/events`, { type: 'accepted' })

  const misrouted = await agent('POST', '/api/cases', {
    itemCode: item.code, materials,
    applicant: { name: '吴芳（示例）', idType: 'resident-id', idNumber: '511303198811110039', phone: '13933334444' },
  })
  if (misrouted.status !== 201) throw new Error(`demo intake failed: ${JSON.stringify(misrouted.body)}`)
  await until(`case ${misrouted.body.id} at 顺庆区`, async () => (await county1('GET', `/api/cases/${misrouted.body.id}`)).status === 200)
  const moved = await county1('POST', `/api/cases/${misrouted.body.id}/events`, { type: 'transferred', to: COUNTY2, reason: '申请人户籍在高坪区，应由高坪区办理（示例）' })
  if (moved.status !== 200) throw new Error(`demo transfer failed: ${JSON.stringify(moved.body)}`)

  say(`通办 examples (made once, on the first start):`)
  say(`  异地办理 ${cross.body.id}: ${item.name}, taken in at 长青村 for 高坪区 (长青村 → 潆溪镇 → 顺庆区 → 南充市 → 高坪区), accepted at 高坪区 — decide it there as staff`)
  say(`  转办     ${misrouted.body.id}: taken in at 长青村 for 顺庆区, transferred by 顺庆区 to 高坪区 — both counties show it; only 高坪区 can act`)
  return { crossCounty: cross.body.id, transferred: misrouted.body.id }
}
