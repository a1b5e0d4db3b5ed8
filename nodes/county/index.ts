/** The county (县/区): decides the bulk of approvals; may publish a local implementation list. */
import type { Preset } from '../core/preset.ts'

export const countyPreset: Preset = { level: 'county', defaults: {} }
