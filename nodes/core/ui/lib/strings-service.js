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
  },
  en: {
    'event.refused': 'Not accepted', 'action.refused': 'Refuse to accept',
    'action.help.refused': 'When the application may not be accepted (not this office’s matter, not this item…), refuse it with the reason the applicant will read. After acceptance, a negative decision is a denial.',
    'action.confirm.refused': 'Refuse to accept', 'action.refuseReason': 'Reason (required)', 'action.needRefuseReason': 'Write the reason for the refusal',
    'case.refusedNote': 'This application was not accepted.', 'status.refused': 'Not accepted',
    'dash.col.refused': 'Not accepted',
  },
}
