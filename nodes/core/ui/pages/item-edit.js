/**
 * Adding or changing one catalogue item: its guide fields and its materials. The node checks
 * it with the catalogue schema; a field at fault is named next to the field.
 */
import { go } from '../app.js'
import { api, ApiFailure } from '../lib/api.js'
import { ctx, forgetCatalogue, P } from '../lib/ctx.js'
import { h, mount, toast } from '../lib/dom.js'
import { t } from '../lib/i18n.js'
import { levelName } from '../lib/format.js'

export async function render({ code }) {
  if (ctx.user.role !== 'admin') throw new Error(t('err.adminOnly'))
  const old = code ? await api('GET', '/api/catalogue/items/' + encodeURIComponent(code)) : null
  const v = old ?? { code: '', name: '', department: '', level: 'village', kind: 'instant', legalDays: 0, promisedDays: 0, materials: [{ name: '', required: true }], fee: '不收费', online: false, maxVisits: 1, pinyin: '', resultKind: 'licence' }

  const f = {
    code: h('input', { type: 'text', id: 'it-code', value: v.code, readOnly: !!old, class: 'mono', autofocus: !old }),
    name: h('input', { type: 'text', id: 'it-name', value: v.name, autofocus: !!old }),
    pinyin: h('input', { type: 'text', id: 'it-pinyin', value: v.pinyin ?? '', class: 'mono' }),
    department: h('input', { type: 'text', id: 'it-department', value: v.department }),
    level: h('select', { id: 'it-level' }, P.LEVELS.map((l) => h('option', { value: l, selected: v.level === l }, levelName(l)))),
    resultKind: h('select', { id: 'it-resultKind' }, P.RESULT_KINDS.map((k) => h('option', { value: k, selected: (v.resultKind ?? 'licence') === k }, t('resultKind.' + k)))),
    kind: h('select', { id: 'it-kind' }, ['instant', 'promised'].map((k) => h('option', { value: k, selected: v.kind === k }, t('kind.' + k)))),
    promisedDays: h('input', { type: 'number', id: 'it-promisedDays', min: '0', max: '365', value: String(v.promisedDays) }),
    legalDays: h('input', { type: 'number', id: 'it-legalDays', min: '0', max: '365', value: String(v.legalDays) }),
    fee: h('input', { type: 'text', id: 'it-fee', value: v.fee }),
    maxVisits: h('input', { type: 'number', id: 'it-maxVisits', min: '0', max: '10', value: String(v.maxVisits) }),
    online: h('input', { type: 'checkbox', id: 'it-online', checked: v.online }),
    // 并联审批: one department and its limit in working days a line, e.g. “自然资源所 3”.
    parallel: h('textarea', { id: 'it-parallel', rows: '3', value: (v.parallel ?? []).map((d) => `${d.department} ${d.days}`).join('\n') }),
  }
  const errs = {}
  const field = (k, label, hint, cls) => {
    errs[k] = h('span', { class: 'err', id: `it-${k}-err`, hidden: true })
    return h('div', { class: ['field', cls] }, h('label', { htmlFor: 'it-' + k }, label), f[k], hint ? h('span', { class: 'hint' }, hint) : null, errs[k])
  }

  const mats = v.materials.map((m) => ({ ...m }))
  const matBox = h('div', { class: 'mat-editor' })
  errs.materials = h('span', { class: 'err', hidden: true })
  const drawMats = () => mount(matBox, mats.map((m, i) => h('div', { class: 'mrow' },
    h('input', { type: 'text', value: m.name, 'aria-label': t('cat.matName', { n: i + 1 }), oninput: (e) => (m.name = e.target.value) }),
    h('label', { class: 'check' }, h('input', { type: 'checkbox', checked: m.required, onchange: (e) => (m.required = e.target.checked) }), t('mat.required')),
    // 容缺: a required material the window may take the case without, on a commitment.
    h('label', { class: 'check' }, h('input', { type: 'checkbox', checked: !!m.deferrable, dataset: { deferrable: String(i) }, onchange: (e) => (m.deferrable = e.target.checked) }), t('mat.deferrable')),
    h('button', { class: 'btn ghost small', type: 'button', 'aria-label': t('cat.matRemove', { n: i + 1 }), onclick: () => (mats.splice(i, 1), drawMats()) }, t('cat.remove')))),
  h('button', { class: 'btn secondary small', type: 'button', onclick: () => {
    mats.push({ name: '', required: true })
    drawMats()
    matBox.querySelectorAll('.mrow input[type=text]')[mats.length - 1]?.focus()
  } }, t('cat.matAdd')))
  drawMats()

  const notice = h('div', { class: 'notice error', role: 'alert', tabindex: '-1', hidden: true })
  const onsubmit = async (e) => {
    e.preventDefault()
    for (const k of Object.keys(errs)) errs[k].hidden = true
    notice.hidden = true
    const item = {
      code: f.code.value.trim(), name: f.name.value.trim(), department: f.department.value.trim(), level: f.level.value, kind: f.kind.value,
      legalDays: Number(f.legalDays.value), promisedDays: Number(f.promisedDays.value), fee: f.fee.value.trim() || undefined,
      online: f.online.checked, maxVisits: Number(f.maxVisits.value), pinyin: f.pinyin.value.trim().toLowerCase() || undefined,
      materials: mats.filter((m) => m.name.trim()).map((m) => ({ name: m.name.trim(), required: m.required, deferrable: m.required && !!m.deferrable })),
      resultKind: f.resultKind.value,
      // None stays absent; an empty list takes away the departments an item had.
      parallel: parallelLines(f.parallel.value, !!old?.parallel?.length),
    }
    if (!old && item.code && (await api('GET', '/api/catalogue/items/' + encodeURIComponent(item.code)).then(() => true, () => false))) {
      errs.code.textContent = t('cat.codeTaken', { code: item.code })
      errs.code.hidden = false
      f.code.focus()
      return
    }
    try {
      if (old) {
        const { code: _c, ...patch } = item
        await api('PATCH', `/api/catalogue/items/${encodeURIComponent(old.code)}`, patch)
      } else {
        await api('POST', '/api/catalogue/items', { ...item, retired: false })
      }
      forgetCatalogue()
      toast(old ? t('cat.savedChange', { name: item.name }) : t('cat.savedNew', { name: item.name }))
      go('#/catalogue')
    } catch (x) {
      const issues = x instanceof ApiFailure ? x.details?.issues ?? [] : []
      let first = null
      for (const i of issues) {
        const k = i.field.split('.')[0]
        if (errs[k]) {
          errs[k].textContent = i.message
          errs[k].hidden = false
          first ??= f[k]
        }
      }
      notice.textContent = first ? t('cat.invalid') : x.message
      notice.hidden = false
      ;(first ?? notice).focus()
    }
  }

  return h('div', null,
    h('div', { class: 'crumbs' }, h('a', { href: '#/catalogue' }, t('cat.title')), ' › ', old ? old.name : t('cat.new')),
    h('div', { class: 'page-head' }, h('div', null, h('h1', null, old ? t('cat.editTitle', { name: old.name }) : t('cat.new')),
      old ? h('p', { class: 'sub' }, t('cat.editLead', { v: old.version, next: old.version + 1 })) : null)),
    notice,
    h('form', { onsubmit, novalidate: true },
      h('section', { class: 'card' },
        h('h2', null, t('cat.basics')),
        h('div', { class: 'form-grid' },
          field('code', t('cat.code'), old ? t('cat.codeFixed') : t('cat.codeHint')),
          field('name', t('cat.name')),
          field('pinyin', t('cat.pinyin'), t('cat.pinyinHint')),
          field('department', t('cat.department')),
          field('level', t('cat.level')),
          field('kind', t('cat.kind')),
          field('resultKind', t('cat.resultKind'), t('cat.resultKindHint')),
          field('promisedDays', t('cat.promisedDays'), t('cat.promisedHint')),
          field('legalDays', t('cat.legalDays')),
          field('fee', t('cat.fee')),
          field('maxVisits', t('cat.maxVisits')),
          field('parallel', t('cat.parallel'), t('cat.parallelHint'), 'full'),
          h('div', { class: 'field full' }, h('label', { class: 'check', htmlFor: 'it-online' }, f.online, t('cat.online'))))),
      h('section', { class: 'card' },
        h('h2', null, t('cat.materials')),
        h('p', { class: 'muted' }, t('cat.materialsLead')),
        errs.materials, matBox),
      h('div', { class: 'row' },
        h('button', { class: 'btn big', type: 'submit', dataset: { action: 'save-item' } }, old ? t('cat.saveChange') : t('cat.saveNew')),
        h('a', { class: 'btn secondary big', href: '#/catalogue' }, t('cancel')))))
}

/** “自然资源所 3” lines → [{department, days}]; a line without its number is sent as it is, for the node to name. */
function parallelLines(text, had) {
  const lines = text.split('\n').map((l) => l.trim()).filter(Boolean).map((l) => {
    const m = /^(.*?)[\s:：]+(\d+)$/.exec(l)
    return m ? { department: m[1].trim(), days: Number(m[2]) } : { department: l, days: null }
  })
  return lines.length || had ? lines : undefined
}
