/** RecentFigures: a polled figure is counted once while nothing changed, again after a change or its age. */
import { describe, expect, it } from 'vitest'
import { RecentFigures } from './recent.ts'

describe('RecentFigures', () => {
  it('answers from the last count until something changed', async () => {
    const f = new RecentFigures<number>(60_000)
    let counts = 0
    const count = async () => ++counts
    expect(await f.get('p', count)).toBe(1)
    expect(await f.get('p', count)).toBe(1)
    f.changed()
    expect(await f.get('p', count)).toBe(2)
    expect(await f.get('other', count)).toBe(3)
  })

  it('counts again once the figure is older than its age', async () => {
    const f = new RecentFigures<number>(20)
    let counts = 0
    expect(await f.get('p', async () => ++counts)).toBe(1)
    await new Promise((r) => setTimeout(r, 40))
    expect(await f.get('p', async () => ++counts)).toBe(2)
  })

  it('polls at the same time share one count; a change during a count makes the next poll count again', async () => {
    const f = new RecentFigures<number>(60_000)
    let counts = 0
    let release = () => {}
    const gate = new Promise<void>((r) => (release = r))
    const slow = async () => {
      await gate
      return ++counts
    }
    const a = f.get('p', slow)
    const b = f.get('p', slow)
    f.changed() // a write lands while the count runs: what it counted may be older than the write
    const c = f.get('p', slow)
    release()
    expect(await Promise.all([a, b, c])).toEqual([1, 1, 2])
    expect(await f.get('p', slow)).toBe(2)
  })

  it('holds at most maxKeys figures', async () => {
    const f = new RecentFigures<string>(60_000, 2)
    let counts = 0
    for (const k of ['a', 'b', 'c']) await f.get(k, async () => `${k}${++counts}`)
    expect(await f.get('a', async () => `a${++counts}`)).toBe('a4') // dropped: counted again
    expect(await f.get('c', async () => `c${++counts}`)).toBe('c3')
  })
})
