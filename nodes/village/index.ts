/**
 * The village agent point (代办点): takes in everything on the villager's behalf, handles the
 * small matters on the spot, works offline. Checkpoints more often: old laptops lose power.
 */
import type { Preset } from '../core/preset.ts'

export const villagePreset: Preset = { level: 'village', defaults: { checkpointMs: 15_000 } }
