/**
 * One real node process for the node benchmark: spawned through the CLI exactly as a village
 * laptop runs it (`node bin/tongban.mjs start …`), timed from spawn to its listening line, and
 * measured from the outside through /proc/<pid>/status.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const ROOT = fileURLToPath(new URL('../..', import.meta.url))
export const BIN = join(ROOT, 'bin/tongban.mjs')

export interface NodeSpec {
  level: 'city' | 'county' | 'township' | 'village'
  code: string
  name: string
  dataDir: string
  catalogue?: string
  /** Extra flags for node itself (e.g. --cpu-prof), placed before the script. */
  nodeArgs?: string[]
  /** Extra flags for `tongban start` (e.g. --parent). */
  startArgs?: string[]
  /** Another checkout's bin/tongban.mjs (a before/after comparison runs the older code). */
  bin?: string
  /** The request that shows the node answers (default /healthz; a route that may itself be slow is not one). */
  readyPath?: string
}

export interface BenchProc {
  proc: ChildProcess
  pid: number
  url: string
  /** Milliseconds from spawn to the listening line. */
  startMs: number
  /** Milliseconds from spawn to the first answer of `readyPath` (/healthz unless told). */
  readyMs: number
  log: string[]
}

/** Spawns `tongban start` and resolves once it prints `… listening on http://…`. */
export function startProc(spec: NodeSpec, timeoutMs = 120_000): Promise<BenchProc> {
  const args = ['start', '--level', spec.level, '--code', spec.code, '--name', spec.name, '--port', '0', '--data', spec.dataDir]
  if (spec.catalogue) args.push('--catalogue', spec.catalogue)
  // Loopback only: the node bench measures the node's own work, not TLS (the link bench runs over TLS).
  args.push('--insecure-http', ...(spec.startArgs ?? []))
  const t0 = performance.now()
  const proc = spawn(process.execPath, [...(spec.nodeArgs ?? []), spec.bin ?? BIN, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
  const log: string[] = []
  return new Promise((resolve, reject) => {
    let out = ''
    const timer = setTimeout(() => {
      proc.kill('SIGKILL')
      reject(new Error(`node did not start within ${timeoutMs} ms:\n${log.join('')}`))
    }, timeoutMs)
    const onData = (d: Buffer) => {
      const text = d.toString()
      log.push(text)
      if (log.length > 200) log.splice(0, log.length - 200)
      out += text
      const m = /listening on (https?:\/\/[\d.]+:\d+)/.exec(out)
      if (m) {
        const startMs = performance.now() - t0
        clearTimeout(timer)
        proc.off('exit', onExit)
        out = ''
        // The CLI prints its line a moment before it installs its SIGTERM handler; a stop sent in
        // that gap kills it uncleanly. One answered request means the handler is in place.
        fetch(`${m[1]}${spec.readyPath ?? '/healthz'}`).then((r) => r.arrayBuffer()).then(
          () => resolve({ proc, pid: proc.pid!, url: m[1], startMs, readyMs: performance.now() - t0, log }),
          (e) => {
            proc.kill('SIGKILL')
            reject(new Error(`node printed its URL but ${spec.readyPath ?? '/healthz'} failed: ${e}`))
          },
        )
      }
    }
    const onExit = (code: number | null) => {
      clearTimeout(timer)
      reject(new Error(`node exited with ${code} before listening:\n${log.join('')}`))
    }
    proc.stdout!.on('data', onData)
    proc.stderr!.on('data', onData)
    proc.once('exit', onExit)
  })
}

/** A clean stop (SIGTERM, as Ctrl-C or a service manager does); SIGKILL after `graceMs`. Returns the ms it took and whether it was clean. */
export async function stopProc(p: BenchProc, graceMs = 30_000): Promise<{ ms: number; clean: boolean; code: number | string | null }> {
  const t0 = performance.now()
  if (p.proc.exitCode !== null || p.proc.signalCode !== null) return { ms: 0, clean: p.proc.exitCode === 0, code: p.proc.exitCode ?? p.proc.signalCode }
  const exited = new Promise<number | string | null>((r) => p.proc.once('exit', (code, signal) => r(code ?? signal)))
  p.proc.kill('SIGTERM')
  let timer: NodeJS.Timeout | undefined
  const timedOut = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), graceMs)))
  const first = await Promise.race([exited, timedOut])
  clearTimeout(timer)
  if (first === 'timeout') {
    p.proc.kill('SIGKILL')
    const code = await exited
    return { ms: performance.now() - t0, clean: false, code }
  }
  return { ms: performance.now() - t0, clean: first === 0, code: first }
}

/** `tongban user add` on a stopped node's data dir; resolves with the ms it took. */
export function userAdd(dataDir: string, name: string, role: string, password: string, bin = BIN): Promise<number> {
  const t0 = performance.now()
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [bin, 'user', 'add', '--data', dataDir, '--name', name, '--role', role, '--password', password], { cwd: ROOT, timeout: 600_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`user add failed: ${err.message}\n${stdout}${stderr}`))
      else resolve(performance.now() - t0)
    })
  })
}

export interface Mem {
  /** Resident set size now, MB. */
  rss: number
  /** Peak resident set size of the process so far (VmHWM), MB. */
  hwm: number
}

/** VmRSS and VmHWM of a live process, in MB (from /proc/<pid>/status). */
export function readMem(pid: number): Mem {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  const kb = (key: string) => {
    const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)
    if (!m) throw new Error(`no ${key} in /proc/${pid}/status`)
    return Number(m[1]) / 1024
  }
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') }
}

/**
 * Waits until the RSS holds still (three samples a second apart within 2 MB of each other) or
 * `maxMs` passes; returns the last reading and how long it took.
 */
export async function settledMem(pid: number, maxMs = 20_000): Promise<Mem & { waitedMs: number }> {
  const t0 = performance.now()
  const samples: number[] = []
  let m = readMem(pid)
  for (;;) {
    await new Promise((r) => setTimeout(r, 1_000))
    m = readMem(pid)
    samples.push(m.rss)
    const last = samples.slice(-3)
    if (last.length === 3 && Math.max(...last) - Math.min(...last) <= 2) break
    if (performance.now() - t0 > maxMs) break
  }
  return { ...m, waitedMs: performance.now() - t0 }
}

/** Samples RSS every `everyMs` while `work` runs; returns the work's result and the peak RSS seen. */
export async function sampleMemDuring<T>(pid: number, work: () => Promise<T>, everyMs = 200): Promise<{ result: T; peakRss: number; lastRss: number }> {
  let peak = readMem(pid).rss
  let last = peak
  const timer = setInterval(() => {
    try {
      last = readMem(pid).rss
      peak = Math.max(peak, last)
    } catch {
      /* process gone: the work will fail on its own */
    }
  }, everyMs)
  try {
    const result = await work()
    last = readMem(pid).rss
    peak = Math.max(peak, last)
    return { result, peakRss: peak, lastRss: last }
  } finally {
    clearInterval(timer)
  }
}

/** CPU seconds (user + system) a live process has used so far, from /proc/<pid>/stat. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(f[11]) + Number(f[12])) / 100 // utime, stime in clock ticks (100 a second on Linux)
}

/**
 * Waits until the process is idle — under 0.1 s of CPU over the last 3 s, 5 s at least — or `maxMs` passes;
 * returns how long that took and the CPU seconds it used meanwhile (a node's work after it answers).
 */
export async function quietCpu(pid: number, maxMs = 600_000): Promise<{ waitedMs: number; cpuS: number; quiet: boolean }> {
  const t0 = performance.now()
  const c0 = cpuSeconds(pid)
  const samples = [c0]
  for (;;) {
    await new Promise((r) => setTimeout(r, 1_000))
    samples.push(cpuSeconds(pid))
    // At least 5 s: a node's first passes start a second or two after it answers (debounced).
    const quiet = samples.length >= 6 && samples[samples.length - 1] - samples[samples.length - 4] < 0.1
    if (quiet || performance.now() - t0 > maxMs) return { waitedMs: performance.now() - t0, cpuS: samples[samples.length - 1] - c0, quiet }
  }
}
