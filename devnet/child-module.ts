import { fileURLToPath } from 'node:url'

/**
 * How to run a sibling module as a child process: the compiled `.js` with plain Node from an
 * installed package, the `.ts` source through tsx in this repository.
 * @example spawn(process.execPath, [...childModule(import.meta.url, 'hardhat-node-main').args, '8545'])
 */
export function childModule (from: string, name: string): { args: string[] } {
  const source = from.endsWith('.ts')
  const file = fileURLToPath(new URL(`./${name}.${source ? 'ts' : 'js'}`, from))
  return { args: source ? ['--import', 'tsx', file] : [file] }
}
