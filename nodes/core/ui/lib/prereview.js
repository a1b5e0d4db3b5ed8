/** 网上预审 in the UI: the status pill the applicant's page and the staff pages share. */
import { h } from './dom.js'
import { t } from './i18n.js'

/** The case pills' colours: 待预审 as submitted, 通过 green, 需补正 yellow, 已受理 blue, 已过期 grey. */
const LOOK = { pending: 'submitted', passed: 'approved', correction: 'correction', accepted: 'accepted', expired: 'withdrawn' }

export function prereviewPill(status, big = false) {
  return h('span', { class: ['pill', 's-' + LOOK[status], big && 'big'], dataset: { prereviewStatus: status } }, t('pr.status.' + status))
}
