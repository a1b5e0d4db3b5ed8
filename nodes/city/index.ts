/** The city (市): authors the service catalogue and the working-day calendar; starts with the sample catalogue. */
import type { Preset } from '../core/preset.ts'

export const cityPreset: Preset = { level: 'city', defaults: { catalogue: 'sample' } }
