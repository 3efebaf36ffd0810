// Hardhat 2 loads its config with require(), which cannot load TypeScript in this ESM package, and
// its own TypeScript route needs ts-node. This shim loads the real config, hardhat.config.ts, through
// tsx's scoped require hook (no global hook). Point Hardhat at it:
//   npx hardhat --config hardhat.config.cjs node     (or HARDHAT_CONFIG=hardhat.config.cjs)
module.exports = require('tsx/cjs/api').require('./hardhat.config.ts', __filename)
