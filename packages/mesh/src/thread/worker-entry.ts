// Where the transport thread's code comes from. A bundle that cannot ship the worker as a file of its
// own (a single executable) replaces this module at build time with one that returns the worker's
// code as text: scripts/release/single-executable.ts.

/** The worker's entry: a file to load, or code for `new Worker(code, { eval: true })`. */
export type WorkerEntry = { file: URL } | { code: string }

/** transport-worker.ts beside this module: run from the sources (tsx registered first), or built. */
export function transportWorkerEntry(): WorkerEntry {
  const fromSources = import.meta.url.endsWith('.ts')
  const entry = new URL(`./transport-worker.${fromSources ? 'ts' : 'js'}`, import.meta.url)
  if (!fromSources) return { file: entry }
  // Node 20 does not run --import's loaders on a worker: tsx is registered there first.
  const code = `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))})
    .then((tsx) => { tsx.register(); return import(${JSON.stringify(entry.href)}) })`
  return { code }
}
