import type { Command } from 'commander'

/**
 * Examples shown at the end of each command's `--help`, by command path (`devnet keep`). Every
 * command has at least one (test/cli-friendly.test.ts checks that against `remotelog --help`).
 */
export const examples: Record<string, string[]> = {
  init: [
    'remotelog init                                   # embedded local store, shared by all state dirs',
    'remotelog --dir /tmp/bob init                    # a second endpoint on this machine',
    'remotelog init --remote http://host:7878 --token-file token.txt',
    'remotelog init --profile devnet --ns ens --name alice'
  ],
  append: [
    'remotelog append "hello" "world"                 # two messages, published at once',
    'remotelog append --file notes.txt                # one message per line',
    'printf \'a\\nb\\n\' | remotelog append --stdin',
    'remotelog append --file photo.jpg --whole        # the file\'s bytes as one message',
    'remotelog append --no-publish "draft" && remotelog publish'
  ],
  publish: ['remotelog publish', 'remotelog publish --log notes --rebase         # after a CONFLICT'],
  address: ['remotelog address                                # local:b…', 'remotelog --json address --log notes'],
  follow: ['remotelog follow local:b… --as alice', 'remotelog --dir /tmp/bob follow $(remotelog --dir /tmp/alice address) --as alice', 'remotelog follow ens:alice.eth'],
  unfollow: ['remotelog unfollow alice'],
  sync: ['remotelog sync                                   # every followed log', 'remotelog sync alice bob', 'remotelog sync --follow                          # stay live until Ctrl-C'],
  read: ['remotelog read alice', 'remotelog read log:default --from 100           # an own log', 'remotelog --json read alice | jq -r .text'],
  status: ['remotelog status', 'remotelog --json status'],
  demo: ['remotelog demo', 'remotelog demo --messages 2000 --batch 100'],
  serve: ['remotelog serve                                  # 127.0.0.1:7878', 'REMOTELOG_WRITE_TOKEN=… remotelog serve --host 0.0.0.0 --port 7878'],
  seed: ['remotelog seed hypercore:yuqn…'],
  devnet: ['remotelog devnet', 'remotelog devnet --folder /tmp/devnet --quiet'],
  'devnet keep': ['remotelog devnet keep hypercore:yuqn…', 'remotelog devnet keep ens:alice.eth --pin'],
  compare: ['remotelog compare', 'remotelog compare --ns local,twirp --cas all --messages 200 --html report.html'],
  simulate: ['remotelog simulate --endpoints 5 --rounds 8 --seed 1', 'remotelog simulate --profile devnet --ns hypercore --cas helia'],
  export: ['remotelog export alice --out alice.car', 'remotelog export log:default --out backup.car --since 100', 'remotelog export log:default --out - | gzip > backup.car.gz'],
  import: [
    'remotelog import backup.car                      # blocks into the configured store',
    'remotelog import --restore backup.car            # continue the default log on this device',
    'remotelog import backup.car --restore notes --key-file notes.key'
  ],
  verify: ['remotelog verify backup.car'],
  scrub: ['remotelog scrub 3 7                              # asks first on a terminal', 'remotelog scrub --dry-run 3', 'remotelog scrub --yes --log notes 12', 'remotelog scrub                                  # finish an interrupted scrub'],
  fsck: ['remotelog fsck', 'remotelog fsck --repair'],
  daemon: ['remotelog daemon                                 # foreground, until Ctrl-C', 'remotelog daemon --detach && remotelog append hello   # through the daemon', 'remotelog daemon status', 'remotelog daemon stop'],
  'daemon start': ['remotelog daemon start --detach'],
  'daemon status': ['remotelog --json daemon status'],
  'daemon stop': ['remotelog daemon stop']
}

/** A command's path below the program, e.g. `devnet keep`. */
export function commandPath (command: Command): string {
  const names: string[] = []
  for (let c: Command | null = command; c?.parent != null; c = c.parent) names.unshift(c.name())
  return names.join(' ')
}

/** Every command below `program`, depth first (commander's own `help` command is not one). */
export function allCommands (program: Command): Command[] {
  return program.commands.flatMap(c => [c, ...allCommands(c)])
}

/**
 * Shows the global options (`--dir`, `--config`, `--json`) in every command's help and ends each
 * with its examples.
 */
export function applyHelp (program: Command): void {
  program.configureHelp({ showGlobalOptions: true })
  program.addHelpText('after', `
Examples:
  $ remotelog init && remotelog append "hello"
  $ remotelog --dir /tmp/bob follow $(remotelog address) --as alice && remotelog --dir /tmp/bob sync

Exit status: 0 ok, 2 bad arguments, 3 bad config, 4 not found, 5 permission, 6 conflict,
7 integrity, 8 too large, 9 unavailable, 10 aborted, 1 internal. \`remotelog COMMAND --help\` for more.`)
  for (const command of allCommands(program)) {
    command.configureHelp({ showGlobalOptions: true })
    const lines = examples[commandPath(command)]
    if (lines !== undefined) command.addHelpText('after', `\nExamples:\n${lines.map(l => `  $ ${l}`).join('\n')}`)
  }
}
