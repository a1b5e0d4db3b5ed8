/** The township (乡镇/街道) convenience centre: its staff queue; forwards the rest up. */
import type { Preset } from '../core/preset.ts'

export const townshipPreset: Preset = { level: 'township', defaults: {} }
