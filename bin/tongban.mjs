#!/usr/bin/env node
// The tongban CLI: runs the bundle of the TypeScript sources (bin/launch.mjs; no native addon).
import { launch } from './launch.mjs'

await launch('tongban')
