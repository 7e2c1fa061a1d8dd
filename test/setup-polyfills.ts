import '../packages/mesh/src/promise-with-resolvers.ts'
