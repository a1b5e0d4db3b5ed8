/** Process entry: runs the CLI and exits with its code. */
import { installLastGuard } from './last-guard.ts'
import { main } from './main.ts'

installLastGuard()

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e) => {
    console.error(e)
    process.exit(1)
  },
)
