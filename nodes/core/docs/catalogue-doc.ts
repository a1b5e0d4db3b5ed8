/**
 * The layout of a catalogue document (one per publishing scope: the city's, a county's local
 * list): map `items` from item code to the item as one JSON value, map `calendars` from year
 * to that year's working-day calendar. A change rewrites the item's value with a new version.
 */
import * as Y from 'yjs'
import type { Calendar, CatalogueItem } from '../../../protocol/index.ts'

export const catalogueDocId = (scope: string): string => `catalogue:${scope}`

export function readItems(doc: Y.Doc): CatalogueItem[] {
  return [...doc.getMap<CatalogueItem>('items').values()]
}

export function readItem(doc: Y.Doc, code: string): CatalogueItem | undefined {
  return doc.getMap<CatalogueItem>('items').get(code)
}

export function writeItem(doc: Y.Doc, item: CatalogueItem): void {
  doc.getMap<CatalogueItem>('items').set(item.code, item)
}

export function readCalendars(doc: Y.Doc): Calendar[] {
  return [...doc.getMap<Calendar>('calendars').values()]
}

export function writeCalendar(doc: Y.Doc, cal: Calendar): void {
  doc.getMap<Calendar>('calendars').set(String(cal.year), cal)
}
