/**
 * Preload for a benchmark's node process (NODE_OPTIONS="--import <this file>", since
 * --cpu-prof itself is not allowed in NODE_OPTIONS): records a V8 CPU profile of the whole
 * process and writes it to $BENCH_CPU_PROF/<pid>.cpuprofile when the process exits. The
 * in-thread inspector session answers synchronously, so the 'exit' handler can still write it.
 */
import { Session } from 'node:inspector'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'

const dir = process.env.BENCH_CPU_PROF
if (dir) {
  const session = new Session()
  session.connect()
  session.post('Profiler.enable')
  session.post('Profiler.setSamplingInterval', { interval: 500 })
  session.post('Profiler.start')
  process.on('exit', () => {
    session.post('Profiler.stop', (err, res) => {
      if (!err) writeFileSync(join(dir, `${process.pid}.cpuprofile`), JSON.stringify(res.profile))
    })
  })
}
