// Node 20 shims for libraries written against Node 22. Loaded first by the CLI and the tests.
// Promise.withResolvers arrived in Node 22; Helia, libp2p and Hypercore's stack call it.
const P = Promise as unknown as { withResolvers?: unknown }
if (typeof P.withResolvers !== 'function') {
  P.withResolvers = function withResolvers<T>() {
    let resolve!: (value: T | PromiseLike<T>) => void
    let reject!: (reason?: unknown) => void
    const promise = new Promise<T>((res, rej) => { resolve = res; reject = rej })
    return { promise, resolve, reject }
  }
}
export {}
