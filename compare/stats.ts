/**
 * The `q`-quantile (0…1) of `samples` by linear interpolation between closest ranks; NaN when empty.
 * @example quantile([1, 2, 3, 4], 0.5) // 2.5
 */
export function quantile (samples: readonly number[], q: number): number {
  if (samples.length === 0) return Number.NaN
  const sorted = [...samples].sort((a, b) => a - b)
  const at = (sorted.length - 1) * Math.min(1, Math.max(0, q))
  const low = Math.floor(at)
  const high = Math.ceil(at)
  return sorted[low] + (sorted[high] - sorted[low]) * (at - low)
}

/**
 * The arithmetic mean; NaN when empty.
 * @example mean([1, 2, 6]) // 3
 */
export function mean (samples: readonly number[]): number {
  return samples.length === 0 ? Number.NaN : samples.reduce((sum, x) => sum + x, 0) / samples.length
}

/**
 * Rounds to `digits` decimals (figures in reports carry no false precision).
 * @example round(3.14159, 2) // 3.14
 */
export function round (value: number, digits = 1): number {
  const f = 10 ** digits
  return Math.round(value * f) / f
}
