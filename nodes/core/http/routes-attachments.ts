/**
 * /api/cases/:id/attachments — scanned materials (附件) of a case held at this node:
 * `POST ?name=…&material=…` with the file's bytes as the body (the browser shrinks photos first),
 * `GET` the list with where each file stands here (held / arriving / missing), `GET /:hash` the
 * bytes once held whole. Only logged-in users reach these (app.ts), and only for cases this node
 * holds — which it does only on the case's path.
 */
import type { Context } from 'hono'
import { Hono } from 'hono'
import { AttachmentHashSchema, AttachmentUploadQuerySchema, CaseIdSchema } from '../../../protocol/index.ts'
import { attachmentLimits, attachmentsOf } from '../attachments/store.ts'
import { ApiError, parseOr400 } from '../errors.ts'
import { limitedBody } from './body.ts'
import type { AppEnv } from './env.ts'

function caseIdOf(c: Context<AppEnv>): string {
  const id = c.req.param('id') ?? ''
  if (!CaseIdSchema.safeParse(id).success) throw new ApiError('invalid_input', `"${id}" is not a case number (<origin code>-<YYYYMMDD>-<sequence>)`)
  return id
}

/** The file's bytes, at most the per-file limit: past it, 413 in words for the window. */
async function fileBody(c: Context<AppEnv>): Promise<Uint8Array> {
  const max = attachmentLimits().perFileBytes
  try {
    return await limitedBody(c, max)
  } catch (e) {
    if (e instanceof ApiError && e.code === 'payload_too_large') {
      throw new ApiError('payload_too_large', `文件太大：每个附件最多 ${Math.round((max / 1048576) * 10) / 10} MB；请拍照或扫描时降低分辨率，或分页上传 (${e.message})`, { limit: max })
    }
    throw e
  }
}

export const attachmentRoutes = new Hono<AppEnv>()
  .post('/:id/attachments', async (c) => {
    const id = caseIdOf(c)
    const q = parseOr400(AttachmentUploadQuerySchema, c.req.query(), 'attachment query')
    const bytes = await fileBody(c)
    const { attachment, created } = await attachmentsOf(c.var.node).add(id, bytes, q, c.var.user)
    return c.json(attachment, created ? 201 : 200)
  })
  .get('/:id/attachments', async (c) => {
    const id = caseIdOf(c)
    const list = await attachmentsOf(c.var.node).list(id)
    if (!list) throw new ApiError('not_found', `case ${id} is not held at this node`)
    return c.json({ attachments: list, limits: attachmentLimits() })
  })
  .get('/:id/attachments/:hash', async (c) => {
    const id = caseIdOf(c)
    const hash = parseOr400(AttachmentHashSchema, c.req.param('hash'), 'attachment')
    const file = await attachmentsOf(c.var.node).read(id, hash)
    return c.body(file.bytes as Uint8Array<ArrayBuffer>, 200, {
      'content-type': file.mime,
      'content-length': String(file.bytes.length),
      // Opened in the browser, named as the agent named it; personal data: never kept by a cache.
      'content-disposition': `inline; filename*=UTF-8''${encodeURIComponent(file.name)}`,
      'cache-control': 'private, no-store',
      'x-content-type-options': 'nosniff',
    })
  })
