// A small SVG chart renderer for the self-contained report: no library, no script, no network.
import { formatValue } from './format.js'
import { quantile } from './stats.js'

export interface Series {
  label: string
  color: string
}

const WIDTH = 680
const LABEL_W = 150
const RIGHT = 70
const PLOT_W = WIDTH - LABEL_W - RIGHT
const ROW_H = 30
const TOP = 10
const AXIS_H = 34

/**
 * Escapes text for SVG/HTML content and attributes.
 * @example escapeXml('a<b & "c"') // 'a&lt;b &amp; &quot;c&quot;'
 */
export function escapeXml (text: string): string {
  return text.replace(/[&<>"']/g, c => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!)
}

const n = (x: number): string => (Math.round(x * 10) / 10).toString()

/** A scale from data to pixels, linear from 0 or logarithmic when the data spans decades. */
interface Scale { at: (v: number) => number, ticks: number[] }

function niceStep (span: number, count: number): number {
  const raw = span / Math.max(1, count)
  const power = 10 ** Math.floor(Math.log10(raw))
  const f = raw / power
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * power
}

function linearScale (max: number, from: number, to: number, count = 5): Scale {
  const step = niceStep(max > 0 ? max : 1, count)
  const top = Math.max(step, Math.ceil((max > 0 ? max : 1) / step) * step)
  const ticks: number[] = []
  for (let t = 0; t <= top + step / 2; t += step) ticks.push(Number(t.toPrecision(12)))
  return { at: v => from + (to - from) * (v / top), ticks }
}

function logScale (min: number, max: number, from: number, to: number): Scale {
  const lo = Math.floor(Math.log10(min))
  const hi = Math.ceil(Math.log10(max))
  const ticks: number[] = []
  for (let e = lo; e <= hi; e++) for (const m of [1, 2, 5]) { const t = m * 10 ** e; if (t >= 10 ** lo && t <= 10 ** hi) ticks.push(Number(t.toPrecision(6))) }
  const span = Math.max(1, hi - lo)
  return { at: v => from + (to - from) * ((Math.log10(Math.max(v, 10 ** lo)) - lo) / span), ticks }
}

/** Linear from 0, or logarithmic when the positive values span more than a factor of 30. */
function autoScale (values: number[], from: number, to: number): Scale & { log: boolean } {
  const finite = values.filter(Number.isFinite)
  const max = Math.max(0, ...finite)
  const positive = finite.filter(v => v > 0)
  const min = positive.length > 0 ? Math.min(...positive) : 0
  if (min > 0 && max / min > 30) return { ...logScale(min, max, from, to), log: true }
  return { ...linearScale(max, from, to), log: false }
}

function xAxis (scale: Scale, y: number, unit: string, log: boolean): string {
  const parts = [`<line class="axis" x1="${LABEL_W}" y1="${n(y)}" x2="${LABEL_W + PLOT_W}" y2="${n(y)}" stroke="#888"/>`]
  for (const t of scale.ticks) {
    const x = scale.at(t)
    parts.push(`<line x1="${n(x)}" y1="${n(y)}" x2="${n(x)}" y2="${n(y + 4)}" stroke="#888"/>`,
      `<text x="${n(x)}" y="${n(y + 16)}" text-anchor="middle" class="tick">${escapeXml(formatValue(t, ''))}</text>`)
  }
  parts.push(`<text x="${LABEL_W + PLOT_W}" y="${n(y + 30)}" text-anchor="end" class="unit">${escapeXml(unit)}${log ? ' (log scale)' : ''}</text>`)
  return parts.join('')
}

function grid (scale: Scale, top: number, bottom: number): string {
  return scale.ticks.map(t => `<line x1="${n(scale.at(t))}" y1="${n(top)}" x2="${n(scale.at(t))}" y2="${n(bottom)}" stroke="#eee"/>`).join('')
}

function svg (height: number, title: string, body: string): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${WIDTH} ${n(height)}" width="${WIDTH}" height="${n(height)}" role="img" aria-label="${escapeXml(title)}">${body}</svg>`
}

function rowLabel (label: string, y: number, color: string): string {
  return `<rect x="4" y="${n(y - 6)}" width="12" height="12" rx="2" fill="${color}"/><text x="22" y="${n(y + 4)}" class="label">${escapeXml(label)}</text>`
}

/**
 * One row per series: every sample as a dot, the middle half as a box, the median as a bar and
 * the 95th percentile as a diamond.
 * @example distributionChart('Publish latency', 'ms', [{ label: 'ens+local', color: '#1f77b4', samples: [12, 15, 40] }])
 */
export function distributionChart (title: string, unit: string, series: Array<Series & { samples: number[] }>): string {
  const height = TOP + series.length * ROW_H + AXIS_H
  const scale = autoScale(series.flatMap(s => s.samples), LABEL_W, LABEL_W + PLOT_W)
  const rows = series.map((s, i) => {
    const y = TOP + i * ROW_H + ROW_H / 2
    const samples = s.samples.filter(Number.isFinite)
    if (samples.length === 0) return rowLabel(s.label, y, s.color) + `<text x="${LABEL_W + 4}" y="${n(y + 4)}" class="tick">no samples</text>`
    const [p25, p50, p75, p95] = [0.25, 0.5, 0.75, 0.95].map(q => quantile(samples, q))
    const dots = samples.map((v, k) => `<circle cx="${n(scale.at(v))}" cy="${n(y + ((k * 7) % 11) - 5)}" r="2" fill="${s.color}" fill-opacity="0.45"/>`).join('')
    const x95 = scale.at(p95)
    return `<g class="series" data-series="${escapeXml(s.label)}">${rowLabel(s.label, y, s.color)}` +
      `<rect x="${n(scale.at(p25))}" y="${n(y - 9)}" width="${n(Math.max(1, scale.at(p75) - scale.at(p25)))}" height="18" fill="${s.color}" fill-opacity="0.15" stroke="${s.color}"/>` +
      dots +
      `<line x1="${n(scale.at(p50))}" y1="${n(y - 11)}" x2="${n(scale.at(p50))}" y2="${n(y + 11)}" stroke="${s.color}" stroke-width="3"><title>${escapeXml(`${s.label}: p50 ${formatValue(p50, unit)}`)}</title></line>` +
      `<path d="M${n(x95)} ${n(y - 6)} l5 6 l-5 6 l-5 -6 z" fill="#fff" stroke="${s.color}" stroke-width="1.5"><title>${escapeXml(`${s.label}: p95 ${formatValue(p95, unit)}`)}</title></path>` +
      `<text x="${LABEL_W + PLOT_W + 6}" y="${n(y + 4)}" class="value">${escapeXml(formatValue(p50, unit))}</text></g>`
  }).join('')
  const bottom = TOP + series.length * ROW_H
  return svg(height, title, grid(scale, TOP, bottom) + rows + xAxis(scale, bottom, unit, scale.log))
}

/**
 * One horizontal bar per series, labelled with its value.
 * @example barChart('Gas per publish', 'gas', [{ label: 'ens+local', color: '#1f77b4', value: 51947 }])
 */
export function barChart (title: string, unit: string, bars: Array<Series & { value: number | undefined }>): string {
  const height = TOP + bars.length * ROW_H + AXIS_H
  const scale = linearScale(Math.max(0, ...bars.map(b => b.value ?? 0).filter(Number.isFinite)), LABEL_W, LABEL_W + PLOT_W)
  const rows = bars.map((b, i) => {
    const y = TOP + i * ROW_H + ROW_H / 2
    const value = b.value !== undefined && Number.isFinite(b.value) ? b.value : undefined
    const w = value === undefined ? 0 : Math.max(value > 0 ? 2 : 0, scale.at(value) - LABEL_W)
    return `<g class="series" data-series="${escapeXml(b.label)}">${rowLabel(b.label, y, b.color)}` +
      `<rect x="${LABEL_W}" y="${n(y - 9)}" width="${n(w)}" height="18" fill="${b.color}"><title>${escapeXml(`${b.label}: ${formatValue(value, unit)}`)}</title></rect>` +
      `<text x="${n(LABEL_W + w + 6)}" y="${n(y + 4)}" class="value">${escapeXml(formatValue(value, unit))}</text></g>`
  }).join('')
  const bottom = TOP + bars.length * ROW_H
  return svg(height, title, grid(scale, TOP, bottom) + rows + xAxis(scale, bottom, unit, false))
}

/**
 * Lines of (x, y) points, one per series, with a legend: e.g. catch-up time against log length.
 * @example lineChart('Catch-up time vs N', 'messages', 'ms', [{ label: 'ens+local', color: '#1f77b4', points: [{ x: 50, y: 20 }] }])
 */
export function lineChart (title: string, xUnit: string, yUnit: string, series: Array<Series & { points: Array<{ x: number, y: number }> }>): string {
  const LINE_TOP = 24
  const plotH = 220
  const left = 70
  const plotW = WIDTH - left - 20
  const legendH = Math.ceil(series.length / 4) * 18
  const height = LINE_TOP + plotH + AXIS_H + 8 + legendH
  const all = series.flatMap(s => s.points)
  const x = linearScale(Math.max(0, ...all.map(p => p.x)), left, left + plotW)
  const y = linearScale(Math.max(0, ...all.map(p => p.y)), LINE_TOP + plotH, LINE_TOP, 4)
  const bottom = LINE_TOP + plotH
  const parts: string[] = []
  for (const t of y.ticks) {
    parts.push(`<line x1="${left}" y1="${n(y.at(t))}" x2="${left + plotW}" y2="${n(y.at(t))}" stroke="#eee"/>`,
      `<text x="${left - 6}" y="${n(y.at(t) + 4)}" text-anchor="end" class="tick">${escapeXml(formatValue(t, ''))}</text>`)
  }
  parts.push(`<text x="${left}" y="${LINE_TOP - 10}" text-anchor="start" class="unit">${escapeXml(yUnit)}</text>`)
  parts.push(`<line x1="${left}" y1="${bottom}" x2="${left + plotW}" y2="${bottom}" stroke="#888"/>`)
  for (const t of x.ticks) {
    parts.push(`<line x1="${n(x.at(t))}" y1="${bottom}" x2="${n(x.at(t))}" y2="${bottom + 4}" stroke="#888"/>`,
      `<text x="${n(x.at(t))}" y="${bottom + 16}" text-anchor="middle" class="tick">${escapeXml(formatValue(t, ''))}</text>`)
  }
  parts.push(`<text x="${left + plotW}" y="${bottom + 30}" text-anchor="end" class="unit">${escapeXml(xUnit)}</text>`)
  series.forEach((s, i) => {
    const points = [...s.points].sort((a, b) => a.x - b.x)
    const path = points.map(p => `${n(x.at(p.x))},${n(y.at(p.y))}`).join(' ')
    parts.push(`<g class="series" data-series="${escapeXml(s.label)}"><polyline points="${path}" fill="none" stroke="${s.color}" stroke-width="2"/>` +
      points.map(p => `<circle cx="${n(x.at(p.x))}" cy="${n(y.at(p.y))}" r="3.5" fill="${s.color}"><title>${escapeXml(`${s.label}: ${formatValue(p.x, '')} ${xUnit} in ${formatValue(p.y, yUnit)}`)}</title></circle>`).join('') + '</g>')
    const lx = 10 + (i % 4) * 165
    const ly = bottom + AXIS_H + 14 + Math.floor(i / 4) * 18
    parts.push(`<rect x="${lx}" y="${ly - 9}" width="12" height="12" rx="2" fill="${s.color}"/><text x="${lx + 18}" y="${ly + 1}" class="label">${escapeXml(s.label)}</text>`)
  })
  return svg(height, title, parts.join(''))
}

/** Distinct colours for up to 16 series (then they repeat). */
export const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#17becf', '#8c564b', '#e377c2',
  '#7f7f7f', '#bcbd22', '#393b79', '#637939', '#8c6d31', '#843c39', '#7b4173', '#3182bd']
