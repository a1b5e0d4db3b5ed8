/**
 * A real PostgreSQL 15 server for the tests of the `pg` backend: a throwaway cluster in a temp
 * dir, listening on 127.0.0.1 on a free port (and a unix socket in that dir, never the
 * system's /var/run/postgresql), trust auth, stopped and deleted by `stop()`.
 *
 * Postgres refuses to run as root, so as root the cluster belongs to the `postgres` system user
 * (created if missing) and its commands run through `runuser`. Every wait is bounded.
 */
import { execFile, execFileSync, spawnSync } from 'node:child_process'
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'

/** Where the server binaries are: $TONGBAN_PG_BIN, else Debian's postgresql-15 package. */
export const PG_BIN = process.env.TONGBAN_PG_BIN ?? '/usr/lib/postgresql/15/bin'

/** Whether the tests can start a server here; in CI a missing server is an error, not a skip. */
export function postgresAvailable(): boolean {
  const ok = existsSync(join(PG_BIN, 'initdb')) && existsSync(join(PG_BIN, 'pg_ctl'))
  if (!ok && process.env.CI) throw new Error(`PostgreSQL 15 is not installed (no ${PG_BIN}/initdb); .ci/run installs postgresql-15`)
  return ok
}

export interface PgServer {
  port: number
  /** The connection URL of database `db` on this server. */
  url(db: string): string
  /** Creates a new, empty database and returns its URL. */
  createDatabase(name: string): Promise<string>
  /** Restarts the server (fast shutdown: open connections are cut), same port. */
  restart(): Promise<void>
  /** Stops the server (fast shutdown) and deletes its directory. */
  stop(): Promise<void>
  /** The server's main process (postmaster.pid's first line): its CPU for benchmarks. */
  pid(): number
}

const OS_USER = 'postgres'
// Generous: a cluster's start (recovery, a checkpoint) on two cores shared with other test runs
// has taken far longer than on a quiet machine; a bound passed means the server is broken.
const START_TIMEOUT_S = 180
const STOP_TIMEOUT_S = 60

/** Initialises a cluster in a new temp dir and starts it; resolves once it accepts connections. */
export async function startPostgres(): Promise<PgServer> {
  const asRoot = process.getuid?.() === 0
  // As root, os.tmpdir() may sit under a dir the postgres user cannot enter; /tmp it can.
  const dir = mkdtempSync(join(asRoot ? '/tmp' : tmpdir(), 'tongban-pg-'))
  if (asRoot) {
    ensureOsUser()
    const uid = Number(execFileSync('id', ['-u', OS_USER]).toString().trim())
    const gid = Number(execFileSync('id', ['-g', OS_USER]).toString().trim())
    chownSync(dir, uid, gid)
  }
  /** The command line running a server binary as the cluster's owner. */
  const command = (bin: string, args: string[]): [string, string[]] =>
    asRoot ? ['runuser', ['-u', OS_USER, '--', join(PG_BIN, bin), ...args]] : [join(PG_BIN, bin), args]
  const run = (bin: string, args: string[], timeoutS: number) => {
    const r = spawnSync(...command(bin, args), { encoding: 'utf8', timeout: timeoutS * 1000, cwd: dir })
    if (r.status !== 0) {
      const log = existsSync(join(dir, 'server.log')) ? readFileSync(join(dir, 'server.log'), 'utf8') : ''
      throw new Error(`${bin} ${args.join(' ')} failed (${r.error?.message ?? `exit ${r.status}`}):\n${r.stdout}${r.stderr}${log}`)
    }
  }
  const runAsync = (bin: string, args: string[], timeoutS: number) =>
    new Promise<void>((resolve, reject) => {
      execFile(...command(bin, args), { timeout: timeoutS * 1000, cwd: dir }, (err, stdout, stderr) => {
        if (err) reject(new Error(`${bin} ${args.join(' ')} failed (${err.message}):\n${stdout}${stderr}`))
        else resolve()
      })
    })
  const data = join(dir, 'data')
  const stop = () => {
    if (existsSync(join(data, 'postmaster.pid'))) run('pg_ctl', ['stop', '-D', data, '-m', 'fast', '-w', '-t', String(STOP_TIMEOUT_S)], STOP_TIMEOUT_S + 5)
  }
  // If the test process exits without its afterAll (a crash, a timeout), don't leave a server running.
  const onExit = () => {
    try {
      stop()
    } catch {
      /* best effort at exit */
    }
    rmSync(dir, { recursive: true, force: true })
  }
  process.once('exit', onExit)

  try {
    // --no-sync: a throwaway cluster need not fsync its initial files.
    run('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-locale', '--no-sync'], 120)
    let port = 0
    for (let attempt = 1; ; attempt++) {
      port = await freePort()
      const opts = [
        '-c', 'listen_addresses=127.0.0.1', '-c', `port=${port}`, '-c', `unix_socket_directories=${dir}`,
        // Test speed only: durability of this cluster is not under test (the node's own is).
        '-c', 'fsync=off', '-c', 'full_page_writes=off', '-c', 'max_connections=60',
      ].join(' ')
      try {
        run('pg_ctl', ['start', '-D', data, '-l', join(dir, 'server.log'), '-w', '-t', String(START_TIMEOUT_S), '-o', opts], START_TIMEOUT_S + 5)
        break
      } catch (e) {
        // Another process may have taken the port between our probe and the server's bind.
        if (attempt >= 3) throw e
      }
    }
    const url = (db: string) => `postgresql://postgres@127.0.0.1:${port}/${db}`
    return {
      port,
      url,
      pid: () => Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]),
      async createDatabase(name) {
        if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new Error(`not a plain database name: ${name}`)
        const client = new pg.Client({ connectionString: url('postgres'), connectionTimeoutMillis: 60_000 })
        await client.connect()
        try {
          await client.query(`CREATE DATABASE ${name}`)
        } finally {
          await client.end()
        }
        return url(name)
      },
      async restart() {
        // pg_ctl restart reuses the options the server was started with (postmaster.opts): same port.
        // Asynchronously, so this process sees its connections being cut as a real node would.
        await runAsync('pg_ctl', ['restart', '-D', data, '-l', join(dir, 'server.log'), '-m', 'fast', '-w', '-t', String(START_TIMEOUT_S)], START_TIMEOUT_S + STOP_TIMEOUT_S + 5)
      },
      async stop() {
        process.off('exit', onExit)
        try {
          stop()
        } finally {
          rmSync(dir, { recursive: true, force: true })
        }
      },
    }
  } catch (e) {
    process.off('exit', onExit)
    onExit()
    throw e
  }
}

function ensureOsUser(): void {
  if (spawnSync('id', ['-u', OS_USER]).status === 0) return
  execFileSync('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', OS_USER], { timeout: 30_000 })
}

/** A port free on 127.0.0.1 right now (the OS picks it). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number }
      s.close(() => resolve(port))
    })
  })
}
