/**
 * The process's last guard. A node serves its people and its children; nothing a peer sends
 * may end it (issue 7, class 1). Every link and HTTP path already ends in a caught, logged
 * refusal; this is the net under them: an unhandled rejection or uncaught exception is logged
 * loudly, with its stack, and the node keeps serving. A test (test/attack/) fails on any.
 */
export function installLastGuard(log: (msg: string) => void = (m) => process.stderr.write(`${m}\n`)): void {
  const report = (kind: string) => (e: unknown) => {
    const err = e as Error
    log(`tongban: ${kind} (a bug: the node keeps serving): ${err?.stack ?? String(e)}`)
  }
  process.on('unhandledRejection', report('unhandled rejection'))
  process.on('uncaughtException', report('uncaught exception'))
}
