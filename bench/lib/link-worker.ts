/**
 * The link emulator (test/tools/link-emulator.ts) in a worker thread, for benchmarks whose client
 * and server run in the bench process itself (the peers): their CPU work (applying a 400 KB
 * update, an Automerge sync) must not hold up the emulator's pacing timers, as it cannot when
 * the two ends are separate processes (our side, bench/link-bench.ts).
 */
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads'
import type { LinkProfile, LinkStats } from '../../test/tools/link-emulator.ts'

export interface WorkerLink {
  port: number
  url(path?: string): string
  stats(): Promise<LinkStats>
  setDown(down: boolean): Promise<void>
  cutAll(): Promise<void>
  close(): Promise<void>
}

type Request = { id: number; op: 'stats' | 'setDown' | 'cutAll' | 'close'; arg?: unknown }
type Reply = { id: number; result?: unknown; error?: string } | { ready: number } | { failed: string }

export async function startLinkInWorker(target: { host: string; port: number }, profile: LinkProfile): Promise<WorkerLink> {
  // tsx's --import hook does not reach a worker's entry module on Node 20: register it inside.
  const boot = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(import.meta.url)}) })`
  const worker = new Worker(boot, { eval: true, workerData: { target, profile } })
  let nextId = 0
  const pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>()
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('link emulator worker did not start in 30 s')), 30_000)
    worker.once('error', (e) => { clearTimeout(timer); reject(e) })
    worker.on('message', (m: Reply) => {
      if ('ready' in m) { clearTimeout(timer); resolve(m.ready) }
      else if ('failed' in m) { clearTimeout(timer); reject(new Error(m.failed)) }
      else {
        const p = pending.get(m.id)
        pending.delete(m.id)
        if (m.error) p?.reject(new Error(m.error))
        else p?.resolve(m.result)
      }
    })
  })
  worker.on('error', (e) => { for (const p of pending.values()) p.reject(e); pending.clear() })
  const call = <T>(op: Request['op'], arg?: unknown): Promise<T> => new Promise<T>((resolve, reject) => {
    const id = nextId++
    const timer = setTimeout(() => { pending.delete(id); reject(new Error(`link emulator worker: ${op} timed out`)) }, 30_000)
    pending.set(id, { resolve: (v) => { clearTimeout(timer); resolve(v as T) }, reject: (e) => { clearTimeout(timer); reject(e) } })
    worker.postMessage({ id, op, arg } satisfies Request)
  })
  let closed = false
  return {
    port,
    url: (path = '') => `http://127.0.0.1:${port}${path}`,
    stats: () => call<LinkStats>('stats'),
    setDown: (down) => call<void>('setDown', down),
    cutAll: () => call<void>('cutAll'),
    async close() {
      if (closed) return
      closed = true
      await call<void>('close').catch(() => {})
      await worker.terminate()
    },
  }
}

if (!isMainThread && parentPort) {
  const port = parentPort
  const { target, profile } = workerData as { target: { host: string; port: number }; profile: LinkProfile }
  const { startLinkEmulator } = await import('../../test/tools/link-emulator.ts')
  try {
    const link = await startLinkEmulator(target, profile)
    port.on('message', async (m: Request) => {
      try {
        let result: unknown
        if (m.op === 'stats') result = link.stats()
        else if (m.op === 'setDown') link.setDown(Boolean(m.arg))
        else if (m.op === 'cutAll') link.cutAll()
        else if (m.op === 'close') await link.close()
        port.postMessage({ id: m.id, result } satisfies Reply)
      } catch (e) {
        port.postMessage({ id: m.id, error: String(e) } satisfies Reply)
      }
    })
    port.postMessage({ ready: link.port } satisfies Reply)
  } catch (e) {
    port.postMessage({ failed: String(e) } satisfies Reply)
  }
}
