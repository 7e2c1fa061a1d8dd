import { spawnSync } from 'node:child_process'

/** Runs a build tool to the end; its stdout, or an error naming it with what it printed. */
export function runCommand(command: string, args: string[], options: { cwd?: string } = {}): string {
  const result = spawnSync(command, args, { encoding: 'utf8', ...options })
  if (result.status !== 0) {
    const output = (result.stderr || result.stdout || result.error?.message || '').trim()
    throw new Error(`release: ${command} ${args.join(' ')} failed: ${output}`)
  }
  return result.stdout
}
