// The package's version, read at build time by a bundler and at run time by Node: one place to bump.
import packageJson from '../package.json' with { type: 'json' }

export const PACKAGE_VERSION: string = packageJson.version
