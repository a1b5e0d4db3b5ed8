#!/usr/bin/env node
// Runs the TypeScript sources directly through tsx (pure JS + esbuild, no native addon at run time).
import { register } from 'tsx/esm/api'

register()
await import('../nodes/core/cli/run.ts')
