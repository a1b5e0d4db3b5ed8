/** The applicant's fields as the intake page and the public pre-review page read them. */
import { P } from './ctx.js'

/**
 * The applicant typed into `inputs` ({name, idType, idNumber, phone} elements), checked with the
 * schema the node checks with, so a typo is named before anything is sent: `data` when valid,
 * else null and `bad`, the fields at fault.
 */
export function readApplicant(inputs) {
  const fields = Object.keys(inputs)
  const parsed = P.ApplicantSchema.safeParse(Object.fromEntries(fields.map((f) => [f, inputs[f].value.trim()])))
  const bad = parsed.success ? [] : [...new Set(parsed.error.issues.map((i) => String(i.path[0])))].filter((f) => fields.includes(f))
  return { data: parsed.success ? parsed.data : null, bad }
}
