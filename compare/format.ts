/**
 * A figure as people read it: milliseconds with sensible precision, bytes in kB/MB, counts with
 * thousands separators; `n/a` for a missing figure.
 * @example formatValue(1234.5, 'ms') // '1,235 ms'
 */
export function formatValue (value: number | undefined, unit: string): string {
  if (value === undefined || !Number.isFinite(value)) return 'n/a'
  if (unit === 'B' || unit === 'bytes') {
    if (value >= 1024 * 1024) return `${(value / 1024 / 1024).toFixed(1)} MB`
    if (value >= 1024) return `${(value / 1024).toFixed(1)} kB`
    return `${value} B`
  }
  const digits = Math.abs(value) >= 100 || (Number.isInteger(value) && unit !== 'ms') ? 0 : Math.abs(value) >= 10 ? 1 : 2
  const text = value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
  return unit === '' || unit === 'requests' || unit === 'gas' ? text : `${text} ${unit}`
}
