#!/usr/bin/env node
// The remotelog command. From an installed package it runs the built bundle; in a clone of the
// repository (sources present) it runs the TypeScript sources through tsx, so there is no stale build.
import { existsSync } from 'node:fs'

const sources = new URL('../cli/main.ts', import.meta.url)
if (existsSync(sources)) {
  const { register } = await import('tsx/esm/api')
  register()
  await import(sources.href)
} else {
  await import('../dist/cli-bundle/main.js')
}
