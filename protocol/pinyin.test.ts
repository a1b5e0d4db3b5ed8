import { describe, it, expect } from 'vitest'
import { matchesInitials, pinyinInitials } from './pinyin.ts'

describe('pinyinInitials', () => {
  it('gives the initials of place names by the pinyin collation', () => {
    const want: Record<string, string> = {
      潆溪镇: 'yxz', 顺庆区: 'sqq', 南充市: 'ncs', 嘉陵区: 'jlq', 高坪区: 'gpq', 李家镇: 'ljz', 龙门街道: 'lmjd',
      营山县: 'ysx', 西充县: 'xcx', 阆中市: 'lzs', 仪陇县: 'ylx', 蓬安县: 'pax', 双桥村: 'sqc', 新华村: 'xhc', 舞凤街道: 'wfjd',
      搬罾街道: 'bzjd', 马家村: 'mjc', 河西乡: 'hxx', 太和镇: 'thz', 二道镇: 'edz', 凤凰村: 'fhc', 柳林村: 'llc',
    }
    for (const [name, initials] of Object.entries(want)) expect(pinyinInitials(name), name).toBe(initials)
  })
  it('keeps letters and digits and drops other symbols', () => {
    expect(pinyinInitials('一村（2组）')).toBe('yc2z')
  })
})

describe('matchesInitials', () => {
  it('matches consecutive initials anywhere in the name, either reading of a two-reading character', () => {
    expect(matchesInitials('长青村', 'cqc')).toBe(true)
    expect(matchesInitials('长青村', 'zqc')).toBe(true)
    expect(matchesInitials('顺庆区市场监督管理局', 'scjd')).toBe(true)
    expect(matchesInitials('潆溪镇', 'xz')).toBe(true)
    expect(matchesInitials('潆溪镇', 'yz')).toBe(false)
    expect(matchesInitials('潆溪镇', '潆')).toBe(false)
    expect(matchesInitials('潆溪镇', '')).toBe(false)
  })
})
