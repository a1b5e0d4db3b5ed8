/**
 * The path of a case for the pages (通办): from the window up to the lowest unit above both it
 * and the deciding unit, then down to that unit — protocol/case-path.ts's `routeBetween` and
 * `casePathOf`. The node's browser bundle (/ui/gen/protocol.js, BUNDLES in
 * nodes/core/http/routes-ui.ts) does not carry case-path.ts yet; until it does, the same walk is
 * made here from the division helpers it does carry.
 */
import { P } from './ctx.js'

/** A unit and every unit above it, nearest first. */
function ancestry(code) {
  const out = []
  for (let c = code; c; c = P.parentCode(c)) out.push(c)
  return out
}

/** The units from `origin` up to the common ancestor and down to `handler`, in travel order (empty when nothing joins them). */
export const routeBetween = P.routeBetween ?? ((origin, handler) => {
  const up = ancestry(origin)
  const down = ancestry(handler)
  const top = up.find((c) => down.includes(c))
  if (!top) return []
  return [...up.slice(0, up.indexOf(top) + 1), ...down.slice(0, down.indexOf(top)).reverse()]
})

/** Every unit on a case's path: the union of the routes from its origin to each of its handlers. */
export const casePathOf = P.casePathOf ?? ((route) => [...new Set(route.handlers.flatMap((hc) => routeBetween(route.originCode, hc)))])
