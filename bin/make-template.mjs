#!/usr/bin/env node
// Makes the store template a new tree copies (nodes/core/cli/make-template.ts), from the bundle.
import { launch } from './launch.mjs'

await launch('make-template')
