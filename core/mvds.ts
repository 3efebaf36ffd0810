import { createHash } from 'node:crypto'

const PREFIX = Buffer.from('MESSAGE_ID')

/**
 * The MVDS message id, as the reference implementation computes it:
 * sha256("MESSAGE_ID" ‖ group_id (32 raw bytes) ‖ uint64-le(timestamp) ‖ body), no separators.
 */
export function mvdsId (groupId: Uint8Array, timestamp: bigint | number, body: Uint8Array): Uint8Array {
  const ts = Buffer.alloc(8)
  ts.writeBigUInt64LE(BigInt(timestamp))
  return createHash('sha256').update(PREFIX).update(groupId).update(ts).update(body).digest()
}
