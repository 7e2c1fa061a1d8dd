import { type LoadedConfig, loadDaemonConfig } from './config-file.ts'
import { InvalidOptionError, USAGE } from './daemon-options.ts'
import { formatConfig } from './print-config.ts'
import { checkNamedFiles, type SettingContext } from './startup-checks.ts'
import { PACKAGE_VERSION } from './version.ts'

/** A setting refused: one line on stderr naming it, exit 2, whatever stage found it. */
function refuse(err: InvalidOptionError): never {
  process.stderr.write(`tlsmeshd: ${err.message}\n`)
  process.exit(2)
}

/** `step`'s result; a setting it refuses ends the process (refuse), anything else is a bug and throws. */
async function orRefuse<T>(step: Promise<T>): Promise<T> {
  try {
    return await step
  } catch (err) {
    if (err instanceof InvalidOptionError) refuse(err)
    throw err
  }
}

function exitWith(text: string, warnings: string[] = []): never {
  for (const warning of warnings) process.stderr.write(`tlsmeshd: ${warning}\n`)
  process.stdout.write(text)
  process.exit(0)
}

async function main(argv: string[]): Promise<void> {
  const loaded: LoadedConfig = await orRefuse(loadDaemonConfig(argv, process.env))
  if (loaded.kind === 'help') exitWith(USAGE)
  if (loaded.kind === 'version') exitWith(`tlsmeshd ${PACKAGE_VERSION}\n`)
  if (loaded.kind === 'print') exitWith(formatConfig(loaded), loaded.warnings)
  // Started now, so that loading libp2p and pino overlaps the checks of the files below.
  const running = loaded.kind === 'run' ? import('./daemon-process.ts') : undefined
  const context: SettingContext = {
    origins: loaded.origins,
    configFile: loaded.configFile,
    credentialsDirectory: process.env.CREDENTIALS_DIRECTORY,
  }
  // The files named are opened before anything is bound or logged, by start-up and --check-config
  // alike (like `nginx -t`): what passes the check gets past this point of a start.
  await orRefuse(checkNamedFiles(loaded.options, context))
  if (loaded.kind === 'check') exitWith('configuration OK\n', loaded.warnings)
  const { runDaemonProcess } = await running!
  await runDaemonProcess({ loaded, context, argv, refuse })
}

void main(process.argv.slice(2))
