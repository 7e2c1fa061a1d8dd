// The single executable's one script: `tlsmeshd` (a link to the binary, or argv[0] of that name)
// runs the daemon, anything else the CLI, as busybox does. Each main starts itself when loaded.
import { basename } from 'node:path'

const daemon = basename(process.argv0).startsWith('tlsmeshd')
void (daemon ? import('../../apps/tlsmeshd/src/main.ts') : import('../../apps/tlsmesh/src/main.ts'))
