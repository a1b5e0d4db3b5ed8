/** The four presets by level. */
import type { Level } from '../../protocol/index.ts'
import { cityPreset } from '../city/index.ts'
import { countyPreset } from '../county/index.ts'
import { townshipPreset } from '../township/index.ts'
import { villagePreset } from '../village/index.ts'
import type { Preset } from './preset.ts'

export const PRESETS: Record<Level, Preset> = { city: cityPreset, county: countyPreset, township: townshipPreset, village: villagePreset }
