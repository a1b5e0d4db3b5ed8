/**
 * Strings of 并联审批 (联办, issue 9 practice 3): department opinions on the case page, the
 * department's queue, staff departments on the users page. Merged into strings.js, Chinese first.
 */
export const PARALLEL_STRINGS = {
  zh: {
    'event.opinion': '部门意见', 'action.opinion': '出具部门意见',
    'action.help.opinion': '并联审批：以本部门名义出具意见。不同意须写明理由，申请人将收到不予决定和这一理由。',
    'action.confirm.opinion': '提交意见',
    'par.title': '并联审批（联办）', 'par.lead': '以下部门并联出具意见：全部同意后方可准予；任一部门不同意，即作出不予决定。',
    'par.pending': '待出具意见', 'par.agree': '同意', 'par.disagree': '不同意', 'par.dueBy': '{date} 前', 'par.reason': '理由：',
    'par.limit': '时限 {n} 个工作日', 'par.opinionOf': '{dept}意见：{what}',
    'par.yours': '请以{dept}名义出具意见', 'par.disagreeReason': '不同意的理由（必填，申请人会看到）', 'par.needReason': '请写明不同意的理由',
    'par.waiting': '待 {list} 出具意见后，方可作出准予决定。', 'par.denyNow': '{dept}不同意：请作出不予决定，理由已代为填入，可修改。',
    'par.allAgreed': '各部门均已同意，可以作出准予决定。',
    'queue.opinions': '待{dept}出具意见', 'queue.opinionsLead': '并联审批中等待本部门出具意见的办件，按本部门的到期日排列。', 'queue.noOpinions': '没有等待本部门出具意见的办件',
    'users.department': '部门', 'users.departmentHint': '并联审批中出具意见的部门，如 自然资源所；不填则不出具部门意见',
    'users.noDepartment': '—',
    'cat.parallel': '并联审批部门', 'cat.parallelHint': '每行一个部门及其办理时限（工作日），如“自然资源所 3”；不填则不是并联审批事项', 'guide.parallel': '并联审批',
  },
  en: {
    'event.opinion': 'Department opinion', 'action.opinion': 'Give the department’s opinion',
    'action.help.opinion': 'Parallel approval: give your department’s opinion. A disagreement needs its reason; the applicant receives a denial with that reason.',
    'action.confirm.opinion': 'Submit the opinion',
    'par.title': 'Parallel approval (联办)', 'par.lead': 'These departments give their opinions in parallel: approved only when all agree; one disagreement means a denial.',
    'par.pending': 'Opinion awaited', 'par.agree': 'Agrees', 'par.disagree': 'Disagrees', 'par.dueBy': 'by {date}', 'par.reason': 'Reason: ',
    'par.limit': '{n} working days', 'par.opinionOf': '{dept}: {what}',
    'par.yours': 'Give the opinion of {dept}', 'par.disagreeReason': 'Why not (required; the applicant reads it)', 'par.needReason': 'Write why your department disagrees',
    'par.waiting': 'The approval waits for the opinions of {list}.', 'par.denyNow': '{dept} disagrees: deny the case; its reason is filled in and may be edited.',
    'par.allAgreed': 'Every department agrees: the case may be approved.',
    'queue.opinions': 'Awaiting the opinion of {dept}', 'queue.opinionsLead': 'Parallel-approval cases waiting for your department, by your department’s due date.', 'queue.noOpinions': 'No case waits for your department',
    'users.department': 'Department', 'users.departmentHint': 'The department whose opinions the user gives in parallel approval, e.g. 自然资源所; empty: none',
    'users.noDepartment': '—',
    'cat.parallel': 'Parallel-approval departments', 'cat.parallelHint': 'One department and its limit in working days per line, e.g. “自然资源所 3”; empty: not parallel', 'guide.parallel': 'Parallel approval',
  },
}
