/**
 * Pinyin initials of unit names (潆溪镇 → yxz), so a window can find a unit by typing them, as it
 * finds items. No dictionary ships with the project: the initial of a Chinese character is found
 * by the pinyin collation every browser and Node carry (ICU, `zh-u-co-pinyin`), against the first
 * character of each initial's range. Place names use a few characters with two readings
 * (长 cháng/zhǎng, 重 chóng/zhòng …): those match either initial.
 */
const LETTERS = 'abcdefghjklmnopqrstwxyz'
/** The first character (in pinyin order) of each initial above; i, u and v begin no syllable. */
const FIRSTS = '阿八嚓哒妸发旮哈讥咔垃呣拏噢妑七呥扨它穵夕丫帀'
const TWO_READINGS: Record<string, string> = { 长: 'cz', 重: 'cz', 朝: 'cz', 藏: 'cz', 曾: 'cz', 行: 'hx', 乐: 'ly', 单: 'ds', 解: 'jx', 会: 'hk', 便: 'bp', 厦: 'sx', 蚌: 'bb', 六: 'll', 番: 'fp', 洞: 'dt', 堡: 'bp' }

let collator: Intl.Collator | null = null

/** The possible initials of one character: a letter or digit stands for itself; other symbols for nothing. */
export function initialsOf(ch: string): string {
  if (/^[a-z0-9]$/i.test(ch)) return ch.toLowerCase()
  if (!/^[\u3400-\u9fff]$/.test(ch)) return ''
  if (TWO_READINGS[ch]) return TWO_READINGS[ch]
  collator ??= new Intl.Collator('zh-CN-u-co-pinyin')
  let found = ''
  for (let i = 0; i < FIRSTS.length && collator.compare(ch, FIRSTS[i]) >= 0; i++) found = LETTERS[i]
  return found
}

/** One reading of the initials of `name` (潆溪镇 → yxz). */
export function pinyinInitials(name: string): string {
  return [...name].map((c) => initialsOf(c)[0] ?? '').join('')
}

/** Do the initials of consecutive characters of `name` spell `query` (a-z only), any reading of each? */
export function matchesInitials(name: string, query: string): boolean {
  const q = query.trim().toLowerCase()
  if (!q || !/^[a-z]+$/.test(q)) return false
  const sets = [...name].map(initialsOf).filter((s) => s !== '')
  for (let start = 0; start + q.length <= sets.length; start++) {
    if ([...q].every((letter, i) => sets[start + i].includes(letter))) return true
  }
  return false
}
