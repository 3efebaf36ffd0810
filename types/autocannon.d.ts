// The parts of autocannon 8 that bench/service.ts uses (the package ships no types).
declare module 'autocannon' {
  // Latency histograms hold whole milliseconds; the `response` event carries the exact time.
  interface AutocannonRequest {
    method?: string
    path?: string
    headers?: Record<string, string>
    body?: string | Buffer
    /** Called before each request; returns the request to send. */
    setupRequest?: (request: AutocannonRequest, context: Record<string, unknown>) => AutocannonRequest
  }

  interface AutocannonOptions {
    url: string
    method?: string
    headers?: Record<string, string>
    body?: string | Buffer
    connections?: number
    /** Seconds. */
    duration?: number
    amount?: number
    requests?: AutocannonRequest[]
    /** Expected response body substring; others count as mismatches. */
    expectBody?: string
  }

  interface Histogram {
    average: number
    mean: number
    stddev: number
    min: number
    max: number
    total: number
    p50: number
    p90: number
    p99: number
  }

  interface AutocannonResult {
    latency: Histogram
    requests: Histogram
    throughput: Histogram
    errors: number
    timeouts: number
    non2xx: number
    mismatches: number
    /** Seconds. */
    duration: number
    '2xx': number
  }

  /** A running benchmark: awaitable for its result; emits `response` (client, statusCode, bytes, ms as a float). */
  interface AutocannonInstance extends PromiseLike<AutocannonResult> {
    on (event: 'response', listener: (client: unknown, statusCode: number, bytes: number, responseTimeMs: number) => void): this
    stop (): void
  }

  function autocannon (options: AutocannonOptions): AutocannonInstance
  export default autocannon
}
