// Child processes for the demo, tests and benchmarks: TypeScript scripts forked with tsx and an IPC
// channel, killed when the parent exits, whatever way it exits.
import { type ChildProcess, fork } from 'node:child_process'

export interface ChildMessage {
  type: string
  [key: string]: unknown
}

const children = new Set<ChildProcess>()
process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL')
})

/** TLSMESH_CPU_PROFILE_DIR=DIR: every child writes a V8 CPU profile there when it exits (benchmarks). */
function profileArgs(): string[] {
  const dir = process.env.TLSMESH_CPU_PROFILE_DIR
  return dir === undefined || dir === '' ? [] : ['--cpu-prof', `--cpu-prof-dir=${dir}`]
}

/**
 * Forks `script` (an absolute path), inside the network namespace `netns` if given (through `ip netns
 * exec`, which keeps the IPC descriptor); resolves with the child and its first "ready" message.
 */
export function forkScript(
  script: string,
  args: string[],
  options: { execArgv?: string[]; netns?: string } = {},
): Promise<{ child: ChildProcess; ready: ChildMessage }> {
  const node = ['--import', 'tsx', ...profileArgs(), ...(options.execArgv ?? [])]
  const child = fork(script, args, {
    ...(options.netns !== undefined
      ? { execPath: 'ip', execArgv: ['netns', 'exec', options.netns, process.execPath, ...node] }
      : { execArgv: node }),
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  children.add(child)
  child.once('exit', () => children.delete(child))
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null): void =>
      reject(new Error(`${script} exited (${code}) before it was ready`))
    child.once('exit', onExit)
    child.on('message', (message: ChildMessage) => {
      if (message.type !== 'ready') return
      child.off('exit', onExit)
      resolve({ child, ready: message })
    })
  })
}

/** Sends `{ type, ...payload }` and resolves with the child's first reply of `replyType`. */
export function request<T>(
  child: ChildProcess,
  type: string,
  payload: Record<string, unknown> = {},
  options: { replyType?: string; timeoutMs?: number } = {},
): Promise<T> {
  const replyType = options.replyType ?? type
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.off('message', onMessage)
      reject(new Error(`no ${replyType} reply`))
    }, options.timeoutMs ?? 5000)
    const onMessage = (message: ChildMessage): void => {
      if (message.type !== replyType) return
      clearTimeout(timer)
      child.off('message', onMessage)
      resolve(message as T)
    }
    child.on('message', onMessage)
    child.send({ type, ...payload })
  })
}

/** SIGTERM, then SIGKILL after `graceMs`. */
export function stopChild(child: ChildProcess, graceMs = 5000): Promise<void> {
  return new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve()
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs)
    child.once('exit', () => {
      clearTimeout(timer)
      resolve()
    })
    child.kill('SIGTERM')
  })
}
