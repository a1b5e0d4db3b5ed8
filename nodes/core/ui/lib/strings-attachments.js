/**
 * Strings of 附件 (scanned materials, issue 10 part 1): adding files at intake and on the case
 * page, their state while the pieces travel, the bytes waiting to go up. Merged into strings.js,
 * Chinese first.
 */
export const ATTACHMENT_STRINGS = {
  zh: {
    'err.code.unsupported_type': '只接受 PDF、JPEG、PNG 格式的附件',
    'event.attached': '上传附件', 'action.attached': '上传附件', 'action.help.attached': '拍照或选择扫描件，作为本件的材料附件。', 'action.confirm.attached': '上传',
    'att.title': '附件（扫描件、照片）', 'att.add': '拍照或选择文件', 'att.hint': '可拍照或选择 PDF、JPEG、PNG 文件；照片会先缩小再上传（长边 1600 像素）。',
    'att.none': '还没有附件', 'att.held': '已收到', 'att.arriving': '还在传输中 {pct}%', 'att.missing': '还在传输中（未到）',
    'att.open': '查看', 'att.size': '{kb} KB', 'att.uploading': '正在上传 {name}…', 'att.uploaded': '已上传 {name}', 'att.failed': '{name} 未上传：{why}',
    'att.material': '对应材料', 'att.anyMaterial': '（不指定）', 'att.pending': '待上传的附件', 'att.pendingNote': '提交申请后会随办件一起上传',
    'att.waitingUp': '附件待上传 {kb} KB', 'att.shrinking': '正在缩小照片…', 'att.remove': '移除',
  },
  en: {
    'err.code.unsupported_type': 'Only PDF, JPEG and PNG files are taken',
    'event.attached': 'Attachment added', 'action.attached': 'Add an attachment', 'action.help.attached': 'Photograph or choose a scan to attach to this case.', 'action.confirm.attached': 'Upload',
    'att.title': 'Attachments (scans, photos)', 'att.add': 'Take a photo or choose a file', 'att.hint': 'Photograph, or choose a PDF, JPEG or PNG file; photos are shrunk before upload (1600 px long side).',
    'att.none': 'No attachments yet', 'att.held': 'Received', 'att.arriving': 'Still on its way {pct}%', 'att.missing': 'Still on its way (not here yet)',
    'att.open': 'Open', 'att.size': '{kb} KB', 'att.uploading': 'Uploading {name}…', 'att.uploaded': 'Uploaded {name}', 'att.failed': '{name} was not uploaded: {why}',
    'att.material': 'Material', 'att.anyMaterial': '(not said)', 'att.pending': 'Attachments to upload', 'att.pendingNote': 'They are uploaded with the application',
    'att.waitingUp': 'Attachments waiting to go up: {kb} KB', 'att.shrinking': 'Shrinking the photo…', 'att.remove': 'Remove',
  },
}
