/**
 * Strings of the service practices (issue 9): 不予受理, the applicant's rating, 容缺受理, 差评整改.
 * Kept apart from strings.js, which merges them in, in Chinese (first) and English.
 */
export const SERVICE_STRINGS = {
  zh: {
    'event.refused': '不予受理', 'action.refused': '不予受理',
    'action.help.refused': '申请不符合受理条件（不属于本机关职权、不属于本事项等）时，出具不予受理决定，须写明理由，申请人会看到。受理后的否定决定请用“不予许可”。',
    'action.confirm.refused': '确认不予受理', 'action.refuseReason': '不予受理理由（必填）', 'action.needRefuseReason': '请写明不予受理的理由',
    'case.refusedNote': '此申请未予受理。', 'status.refused': '不予受理',
    'dash.col.refused': '不予受理',
    'action.rated': '请申请人评价', 'action.help.rated': '请将屏幕转向申请人，由申请人本人评价。',
    'rate.title': '请您评价本次服务', 'rate.lead': '请轻点一个表情。评价由您本人作出，工作人员不代评。', 'rate.pick': '选择满意程度',
    'rate.comment': '意见或建议（可不填）', 'rate.submit': '提交评价', 'rate.later': '暂不评价', 'rate.thanks': '谢谢您的评价！', 'rate.close': '完成',
    'progress.rateLead': '您的办件已出件，欢迎对本次服务作出评价：', 'progress.rated': '已评价，谢谢。', 'progress.rateDone': '评价已提交，谢谢！',
  },
  en: {
    'event.refused': 'Not accepted', 'action.refused': 'Refuse to accept',
    'action.help.refused': 'When the application may not be accepted (not this office’s matter, not this item…), refuse it with the reason the applicant will read. After acceptance, a negative decision is a denial.',
    'action.confirm.refused': 'Refuse to accept', 'action.refuseReason': 'Reason (required)', 'action.needRefuseReason': 'Write the reason for the refusal',
    'case.refusedNote': 'This application was not accepted.', 'status.refused': 'Not accepted',
    'dash.col.refused': 'Not accepted',
    'action.rated': 'Applicant rates', 'action.help.rated': 'Turn the screen towards the applicant: they rate the service themselves.',
    'rate.title': 'Please rate our service', 'rate.lead': 'Tap a face. The rating is yours: staff do not rate for you.', 'rate.pick': 'How satisfied are you',
    'rate.comment': 'Comments (optional)', 'rate.submit': 'Submit', 'rate.later': 'Not now', 'rate.thanks': 'Thank you!', 'rate.close': 'Done',
    'progress.rateLead': 'Your result has been handed over. Please rate the service:', 'progress.rated': 'Rated. Thank you.', 'progress.rateDone': 'Thank you for your rating!',
  },
}
