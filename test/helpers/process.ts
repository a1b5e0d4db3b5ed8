/**
 * Real node processes for the CLI and durability tests: `node bin/tongban.mjs …` exactly as a
 * village laptop runs it. Every wait is bounded; every process started here is killed by
 * `killAll()` (call it in afterAll) and, failing that, when the test worker exits.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { join } from 'node:path'
import { PROJECT_ROOT } from '../../nodes/core/node.ts'
import { trustNode } from './tls.ts'

export const BIN = join(PROJECT_ROOT, 'bin/tongban.mjs')

/** Generous: a first start creates the PGlite store (~5 s alone, far more on a loaded machine). */
export const START_TIMEOUT_MS = 180_000
const STOP_TIMEOUT_MS = 60_000
/** One HTTP request to a node process: a bound for a hung server, not a measure of speed. */
export const REQUEST_TIMEOUT_MS = 120_000

const running = new Set<ChildProcess>()
process.once('exit', () => {
  for (const p of running) p.kill('SIGKILL')
})

export interface NodeSpec {
  level: 'city' | 'county' | 'township' | 'village'
  code: string
  name: string
  data: string
  catalogue?: string
  /** More flags, appended as given. */
  extra?: string[]
}

export interface NodeProcess {
  proc: ChildProcess
  pid: number
  url: string
  port: number
  /** Everything the process wrote so far, stdout and stderr interleaved. */
  output(): string
  /**
   * SIGTERM (what Ctrl-C or a service manager sends); SIGKILL if it has not exited within the
   * bound. Resolves with the exit code, or the signal's name if a signal ended it.
   */
  stop(timeoutMs?: number): Promise<number | string>
  /** kill -9: no shutdown code runs at all. */
  kill9(): Promise<void>
}

export const startArgs = (s: NodeSpec): string[] => [
  'start', '--level', s.level, '--code', s.code, '--name', s.name, '--port', '0', '--data', s.data,
  ...(s.catalogue ? ['--catalogue', s.catalogue] : []), ...(s.extra ?? []),
]

/** Spawns the CLI with `args`, tracked for cleanup. */
function spawnCli(args: string[]): { proc: ChildProcess; output: () => string } {
  const proc = spawn(process.execPath, [BIN, ...args], { cwd: PROJECT_ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
  running.add(proc)
  proc.once('exit', () => running.delete(proc))
  let out = ''
  const keep = (d: Buffer) => {
    out += d.toString()
    if (out.length > 200_000) out = out.slice(-100_000)
  }
  proc.stdout!.on('data', keep)
  proc.stderr!.on('data', keep)
  return { proc, output: () => out }
}

/** Resolves with the exit code (or signal name) once `proc` has exited, or null after `ms`. */
function exited(proc: ChildProcess, ms: number): Promise<number | string | null> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve(proc.exitCode ?? proc.signalCode)
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      proc.off('exit', onExit)
      resolve(null)
    }, ms)
    const onExit = (code: number | null, signal: NodeJS.Signals | null) => {
      clearTimeout(timer)
      resolve(code ?? signal)
    }
    proc.once('exit', onExit)
  })
}

/**
 * Starts `tongban start` and resolves once it prints `tongban <level> <code> listening on
 * https://127.0.0.1:<port>`; rejects with its output if it exits first or the bound passes.
 * Its self-signed certificate is then trusted by this process's fetch (helpers/tls.ts).
 */
export async function startNodeProcess(spec: NodeSpec, timeoutMs = START_TIMEOUT_MS): Promise<NodeProcess> {
  const { proc, output } = spawnCli(startArgs(spec))
  const line = new RegExp(`^tongban ${spec.level} ${spec.code} listening on (https?://127\\.0\\.0\\.1:(\\d+))$`, 'm')
  const url = await new Promise<{ url: string; port: number }>((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup()
      proc.kill('SIGKILL')
      reject(new Error(`${spec.level} ${spec.code} did not print its listening line within ${timeoutMs} ms; output:\n${output()}`))
    }, timeoutMs)
    const check = () => {
      const m = line.exec(output())
      if (m) {
        cleanup()
        resolve({ url: m[1], port: Number(m[2]) })
      }
    }
    const onExit = (code: number | null, signal: string | null) => {
      cleanup()
      reject(new Error(`${spec.level} ${spec.code} exited (${code ?? signal}) before listening; output:\n${output()}`))
    }
    const cleanup = () => {
      clearTimeout(timer)
      proc.stdout!.off('data', check)
      proc.off('exit', onExit)
    }
    proc.stdout!.on('data', check)
    proc.once('exit', onExit)
    check()
  })
  trustNode(spec.data)
  return {
    proc, pid: proc.pid!, ...url, output,
    async stop(ms = STOP_TIMEOUT_MS) {
      proc.kill('SIGTERM')
      const code = await exited(proc, ms)
      if (code === null) {
        proc.kill('SIGKILL')
        await exited(proc, 10_000)
        throw new Error(`${spec.level} ${spec.code} did not stop within ${ms} ms of SIGTERM; output:\n${output()}`)
      }
      return code
    },
    async kill9() {
      proc.kill('SIGKILL')
      if ((await exited(proc, 30_000)) === null) throw new Error(`${spec.level} ${spec.code} survived SIGKILL for 30 s`)
    },
  }
}

/** Runs a CLI command to its end: exit code, stdout, stderr. Killed (and reported) past the bound. */
export function runCli(args: string[], timeoutMs = START_TIMEOUT_MS): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const proc = spawn(process.execPath, [BIN, ...args], { cwd: PROJECT_ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
  running.add(proc)
  let stdout = ''
  let stderr = ''
  proc.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
  proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL')
      reject(new Error(`tongban ${args.join(' ')} did not finish within ${timeoutMs} ms; output:\n${stdout}${stderr}`))
    }, timeoutMs)
    proc.once('error', (e) => {
      clearTimeout(timer)
      running.delete(proc)
      reject(e)
    })
    proc.once('close', (code) => {
      clearTimeout(timer)
      running.delete(proc)
      resolve({ code, stdout, stderr })
    })
  })
}

/** Kills (SIGKILL) every process started here that is still running, and waits for each to go. */
export async function killAll(): Promise<void> {
  const procs = [...running]
  for (const p of procs) p.kill('SIGKILL')
  await Promise.all(procs.map((p) => exited(p, 30_000)))
}

/** A JSON client for a node process, logged in with `name` and `password`. */
export async function loginAt(url: string, name: string, password: string): Promise<Remote> {
  const res = await fetch(`${url}/api/login`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name, password }), signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  })
  const text = await res.text()
  if (res.status !== 200) throw new Error(`login ${name} at ${url}: ${res.status} ${text}`)
  const { token } = JSON.parse(text) as { token: string }
  return async (method, path, body) => {
    const r = await fetch(`${url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    })
    const t = await r.text()
    return { status: r.status, body: t ? JSON.parse(t) : null }
  }
}

export type Remote = (method: string, path: string, body?: unknown) => Promise<{ status: number; body: any }>
