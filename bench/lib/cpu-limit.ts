/**
 * A CPU quota for one process, through a Linux cgroup (v2 `cpu.max`, or v1 `cpu.cfs_quota_us`),
 * for benchmarks that must show what a process does with its own share of a machine — several
 * city processes behind a load balancer each have their own cores, which a 2-core VM running
 * them, PostgreSQL and the load generator together does not. Needs root; Linux only.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

const PERIOD_US = 100_000

/** The cgroup directory a new group goes under, and how to set its quota; null when there is none. */
function cgroupRoot(): { dir: string; set: (group: string, cpus: number) => void } | null {
  if (existsSync('/sys/fs/cgroup/cgroup.controllers')) {
    return { dir: '/sys/fs/cgroup', set: (g, cpus) => writeFileSync(join(g, 'cpu.max'), `${Math.round(cpus * PERIOD_US)} ${PERIOD_US}`) }
  }
  if (existsSync('/sys/fs/cgroup/cpu/cpu.cfs_quota_us')) {
    return {
      dir: '/sys/fs/cgroup/cpu',
      set: (g, cpus) => {
        writeFileSync(join(g, 'cpu.cfs_period_us'), String(PERIOD_US))
        writeFileSync(join(g, 'cpu.cfs_quota_us'), String(Math.round(cpus * PERIOD_US)))
      },
    }
  }
  return null
}

/**
 * Limits process `pid` (all its threads) to `cpus` CPUs' worth of time. Returns the function that
 * removes the group again (call it after the process ended). Throws with the reason when the
 * machine offers no writable cgroup.
 */
export function limitCpu(pid: number, cpus: number, name = `tongban-bench-${pid}`): () => void {
  const root = cgroupRoot()
  if (!root) throw new Error('no cgroup cpu controller under /sys/fs/cgroup: cannot limit a process\'s CPU here')
  const group = join(root.dir, name)
  try {
    mkdirSync(group, { recursive: true })
    root.set(group, cpus)
    writeFileSync(join(group, 'cgroup.procs'), String(pid))
  } catch (e) {
    throw new Error(`cannot limit the CPU of ${pid} to ${cpus} (${(e as Error).message}): run as root on Linux`)
  }
  return () => {
    try {
      rmdirSync(group)
    } catch {
      /* still holds a process, or gone already */
    }
  }
}

/**
 * CPU seconds (user + system) used so far by process `pid` and all its descendants, those still
 * running and those it has waited for (a server whose backends come and go: PostgreSQL's).
 */
export function cpuSecondsOfTree(pid: number): number {
  const procs = new Map<number, { ppid: number; ticks: number }>()
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8')
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      // utime, stime; for the root also cutime, cstime: its children that ended and were waited for.
      const own = Number(f[11]) + Number(f[12])
      procs.set(Number(d), { ppid: Number(f[1]), ticks: Number(d) === pid ? own + Number(f[13]) + Number(f[14]) : own })
    } catch {
      /* ended meanwhile */
    }
  }
  let ticks = 0
  const within = (p: number): boolean => {
    for (let at = p, hops = 0; at > 1 && hops < 64; at = procs.get(at)?.ppid ?? 0, hops++) if (at === pid) return true
    return false
  }
  for (const [p, x] of procs) if (within(p)) ticks += x.ticks
  return ticks / 100
}
