// Hardhat 2 loads its config with require(): this shim loads the TypeScript config, hardhat.config.ts,
// through tsx's scoped require hook (no ts-node, no global hook). Use it with `--config` or HARDHAT_CONFIG.
module.exports = require('tsx/cjs/api').require('./hardhat.config.ts', __filename)
