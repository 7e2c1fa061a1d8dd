// Module resolution hook (see stock-pnet-register.mjs): mesh-node.ts's import of our protector
// resolves to a shim over `@libp2p/pnet`. Registered after tsx, so it runs before tsx's resolver.
const SHIM = new URL('./stock-pnet-protector.ts', import.meta.url).href

export async function resolve(specifier, context, nextResolve) {
  if (
    specifier === './private-network.ts' &&
    context.parentURL?.endsWith('/packages/mesh/src/mesh-node.ts')
  ) {
    // through the next resolver (tsx), which then knows to compile the TypeScript shim
    return nextResolve(SHIM, context)
  }
  return nextResolve(specifier, context)
}
