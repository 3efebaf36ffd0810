import { MAX_OBJECT_BYTES } from '../core/ids.js'

/** Default request (server) and response (client) body limit: room for a 1 MiB object as base64 JSON (4/3 × 1 MiB), with margin. */
export const DEFAULT_MAX_BODY_BYTES = 2 * MAX_OBJECT_BYTES
