/** Process entry: runs the CLI and exits with its code. */
import { main } from './main.ts'

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e) => {
    console.error(e)
    process.exit(1)
  },
)
