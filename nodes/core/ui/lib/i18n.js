/**
 * zh-CN first, English on request. The choice is remembered on this computer. Strings live in
 * strings.js, one table per language; a key missing in English falls back to Chinese.
 */
import { STRINGS } from './strings.js'

const KEY = 'tongban.lang'
let current = (() => {
  try {
    return localStorage.getItem(KEY) === 'en' ? 'en' : 'zh'
  } catch {
    return 'zh'
  }
})()

export const lang = () => current

export function setLang(l) {
  current = l === 'en' ? 'en' : 'zh'
  try {
    localStorage.setItem(KEY, current)
  } catch {
    /* private mode: the switch lasts for this page only */
  }
  document.documentElement.lang = current === 'zh' ? 'zh-CN' : 'en'
}

/** The string for `key` in the current language, with `{name}` placeholders filled from `vars`. */
export function t(key, vars) {
  let s = STRINGS[current][key] ?? STRINGS.zh[key]
  if (s === undefined) {
    console.warn(`i18n: no string for ${key}`)
    return key
  }
  if (vars) s = s.replace(/\{(\w+)\}/g, (m, k) => (vars[k] === undefined ? m : String(vars[k])))
  return s
}
