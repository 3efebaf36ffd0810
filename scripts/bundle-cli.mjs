// Bundles the CLI (cli/main.ts and the core it uses) into dist/cli-bundle/ so that a command starts
// without resolving hundreds of small modules. Backends' SDKs stay outside the bundle (they are
// optional peer dependencies, loaded only by the backend that needs them), and each dynamic
// import() becomes its own chunk, so a command loads only what it runs.
import { readFile } from 'node:fs/promises'
import { build } from 'esbuild'

const pkg = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8'))
await build({
  entryPoints: { main: 'cli/main.ts' },
  outdir: 'dist/cli-bundle',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external: Object.keys(pkg.peerDependencies ?? {}),
  // Some bundled CommonJS packages call require(): give the ES module one.
  banner: { js: "import { createRequire as __remotelogRequire } from 'node:module'; const require = __remotelogRequire(import.meta.url);" },
  logLevel: 'warning'
})
