// The parts of autocannon 8 that bench/service.ts uses (the package ships no types).
declare module 'autocannon' {
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

  function autocannon (options: AutocannonOptions): Promise<AutocannonResult>
  export default autocannon
}
