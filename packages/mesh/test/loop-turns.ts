/**
 * Counts turns of the event loop from now until `stop`: what else the process does (a handshake, a
 * memcached get) gets a turn each time round, so a count that stays put means work held the loop.
 */
export function countTurns(): { readonly turns: number; stop(): void } {
  let turns = 0
  let counting = true
  const count = (): void => {
    turns++
    if (counting) setImmediate(count)
  }
  setImmediate(count)
  return {
    get turns() {
      return turns
    },
    stop() {
      counting = false
    },
  }
}
