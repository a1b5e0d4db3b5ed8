/**
 * Strings of 省平台对接 (the provincial platform exchange, issue 10 part 2): what this node owes
 * the province, what it refused, and retrying. Merged into strings.js, Chinese first.
 */
export const PROVINCE_STRINGS = {
  zh: {
    'nav.province': '省平台对接',
    'prov.title': '省平台对接', 'prov.lead': '办件信息和好差评推送到省一体化政务服务平台（数据汇聚）',
    'prov.off': '本节点未配置省平台对接。由市或县节点启动时加 --province-url 和 --province-credentials 推送。',
    'prov.pending': '待推送', 'prov.failed': '推送失败', 'prov.acked': '省平台已确认',
    'prov.lastSuccess': '最近一次成功', 'prov.lastError': '最近一次错误', 'prov.never': '尚无', 'prov.oldest': '最早待推送：{at}',
    'prov.state.failed': '失败', 'prov.state.pending': '待推送', 'prov.state.acked': '已确认',
    'prov.case': '办件编号', 'prov.kind': '记录', 'prov.attempts': '尝试次数', 'prov.reason': '原因', 'prov.at': '时间', 'prov.actions': '操作',
    'prov.kind.rating': '好差评', 'prov.stage.accepted': '办件信息 · 受理', 'prov.stage.refused': '办件信息 · 不予受理',
    'prov.stage.decided': '办件信息 · 办结', 'prov.stage.delivered': '办件信息 · 出件', 'prov.stage.withdrawn': '办件信息 · 撤回',
    'prov.none': '没有记录', 'prov.retry': '重新推送', 'prov.retryAll': '全部重新推送', 'prov.retried': '已将 {n} 条记录重新排入推送',
    'prov.next': '下一次尝试 {at}', 'prov.ackedAt': '确认于 {at}', 'prov.createdAt': '产生于 {at}',
    'prov.prev': '上一页', 'prov.nextPage': '下一页', 'prov.page': '第 {page} 页，共 {pages} 页（{total} 条）',
  },
  en: {
    'nav.province': 'Province',
    'prov.title': 'Provincial platform', 'prov.lead': 'Case records and ratings pushed to the provincial government service platform',
    'prov.off': 'This node does not push to the province. The city or a county node pushes when started with --province-url and --province-credentials.',
    'prov.pending': 'Pending', 'prov.failed': 'Failed', 'prov.acked': 'Acknowledged',
    'prov.lastSuccess': 'Last success', 'prov.lastError': 'Last error', 'prov.never': 'None yet', 'prov.oldest': 'Oldest pending: {at}',
    'prov.state.failed': 'Failed', 'prov.state.pending': 'Pending', 'prov.state.acked': 'Acknowledged',
    'prov.case': 'Case number', 'prov.kind': 'Record', 'prov.attempts': 'Attempts', 'prov.reason': 'Reason', 'prov.at': 'Time', 'prov.actions': 'Actions',
    'prov.kind.rating': 'Rating', 'prov.stage.accepted': 'Case · accepted', 'prov.stage.refused': 'Case · not accepted',
    'prov.stage.decided': 'Case · decided', 'prov.stage.delivered': 'Case · delivered', 'prov.stage.withdrawn': 'Case · withdrawn',
    'prov.none': 'No records', 'prov.retry': 'Retry', 'prov.retryAll': 'Retry all', 'prov.retried': '{n} records queued again',
    'prov.next': 'Next attempt {at}', 'prov.ackedAt': 'Acknowledged {at}', 'prov.createdAt': 'Made {at}',
    'prov.prev': 'Previous', 'prov.nextPage': 'Next', 'prov.page': 'Page {page} of {pages} ({total} records)',
  },
}
