import { access } from 'node:fs/promises'
import { resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { fail } from '../core/errors.js'

/** Chromium flags for a headless, offline, sandbox-free run (CI containers). */
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking']

/** The Chromium binary: `$CHROMIUM_PATH`, else Debian's `/usr/bin/chromium`. */
export function chromiumPath (): string {
  return process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
}

/**
 * Renders an HTML report in headless Chromium (playwright-core) and saves a full-page PNG.
 * Resolves with the console errors the page produced (none expected).
 * @example await screenshotReport('reports/compare.html', 'docs/compare-report.png')
 */
export async function screenshotReport (htmlFile: string, pngFile: string): Promise<{ consoleErrors: string[] }> {
  const executablePath = chromiumPath()
  await access(executablePath).catch((cause: unknown) => {
    throw fail('UNAVAILABLE', `no Chromium at ${executablePath} (apt-get install chromium, or set CHROMIUM_PATH)`, { cause })
  })
  const { chromium } = await import('playwright-core')
  const browser = await chromium.launch({ executablePath, args: CHROMIUM_ARGS, timeout: 30_000 })
  try {
    const page = await browser.newPage({ viewport: { width: 1460, height: 900 }, deviceScaleFactor: 1 })
    const consoleErrors: string[] = []
    page.on('console', m => { if (m.type() === 'error') consoleErrors.push(m.text()) })
    page.on('pageerror', e => consoleErrors.push(e.message))
    await page.goto(pathToFileURL(resolve(htmlFile)).href, { waitUntil: 'load', timeout: 30_000 })
    await page.screenshot({ path: pngFile, fullPage: true })
    return { consoleErrors }
  } finally {
    await browser.close()
  }
}
