/**
 * People on a case: the applicant's resident id number and phone as intake checks them, and the
 * person who acted as events name them (login and display name in one field).
 */

/** GB 11643-1999: the weights of the first 17 digits, and the check character for sum mod 11. */
const ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
const ID_CHECK = '10X98765432'

/** The check character (0–9 or X) an 18-character resident id number must end with, from its first 17 digits. */
export function residentIdCheck(first17: string): string {
  let sum = 0
  for (let i = 0; i < 17; i++) sum += Number(first17[i]) * ID_WEIGHTS[i]
  return ID_CHECK[sum % 11]
}

/** Why `id` is not a resident id number (居民身份证号), or null: 17 digits, then the GB 11643 check character. */
export function residentIdProblem(id: string): string | null {
  if (!/^\d{17}[\dXx]$/.test(id)) return '居民身份证号为 17 位数字加 1 位数字或 X (a resident id number is 17 digits and a digit or X)'
  if (residentIdCheck(id) !== id[17].toUpperCase()) return '居民身份证号校验位不对，请核对 (the check character of this resident id number is wrong: check the number)'
  return null
}

/**
 * A phone an applicant can be reached on: a mobile number (11 digits starting with 1) or a
 * landline with its area code (0 and 2–3 digits, then 7–8 digits). Spaces and hyphens may group the digits.
 */
export function phoneOk(phone: string): boolean {
  const d = phone.replace(/[\s-]/g, '')
  return /^1\d{10}$/.test(d) || /^0\d{2,3}\d{7,8}$/.test(d)
}

export const PHONE_MESSAGE = '请填写 11 位手机号或带区号的固定电话 (a mobile number of 11 digits starting with 1, or a landline with its area code)'

/** At most this many characters of a display name (with the login, it fits an event's 100-character `user`). */
export const DISPLAY_NAME_MAX = 30

/**
 * What an event's `user` (and an application's `createdBy`) holds: the login alone, or — when the
 * user has a display name — `显示名（login）`, which reads well wherever a node shows it raw.
 * Events are signed as written: older events with the login alone stay valid and read as such.
 */
export function actorLabel(login: string, displayName?: string | null): string {
  return displayName ? `${displayName}（${login}）` : login
}

/** The login and display name (null when none was recorded) an event's `user` names. */
export function parseActor(user: string): { login: string; displayName: string | null } {
  const m = /^(.+)（([^（）]+)）$/.exec(user)
  return m ? { login: m[2], displayName: m[1] } : { login: user, displayName: null }
}
