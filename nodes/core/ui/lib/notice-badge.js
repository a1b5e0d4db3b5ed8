/**
 * The count beside 督办 in the navigation: notices addressed to this unit still awaiting its
 * reply (for a supervisor: notices sent that await the unit's reply). Fetched after the header
 * is drawn, so a slow or offline answer never holds the page; on failure it shows nothing.
 */
import { api } from './api.js'
import { h } from './dom.js'
import { t } from './i18n.js'

export async function showNoticeCount(top, role) {
  const link = top.querySelector('[data-nav="notices"]')
  if (!link) return
  try {
    const { awaiting } = await api('GET', '/api/notices?box=' + (role === 'supervisor' ? 'out' : 'in'))
    link.querySelector('.count')?.remove()
    if (awaiting > 0) link.append(' ', h('span', { class: 'count', dataset: { count: String(awaiting) }, title: t('notice.awaiting') }, String(awaiting)))
  } catch {
    /* offline, or the node predates 督办: no count */
  }
}
