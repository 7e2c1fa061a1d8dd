/** Options of `addEventListener` that Node's `EventTarget` honours. */
export interface TypedListenerOptions {
  once?: boolean
  signal?: AbortSignal
}

/**
 * Typed events over Node's `EventTarget` (after js-libp2p's `TypedEventEmitter`): `Events` maps each
 * event name to its `detail`, so a listener of an unknown name or payload does not compile. Node
 * reports an exception thrown by a listener as an uncaught exception, so listeners must not throw.
 */
export class TypedEventTarget<Events extends object> {
  readonly #target = new EventTarget()

  addEventListener<K extends keyof Events & string>(
    type: K,
    listener: (event: CustomEvent<Events[K]>) => void,
    options?: TypedListenerOptions,
  ): void {
    this.#target.addEventListener(type, listener as (event: Event) => void, options)
  }

  removeEventListener<K extends keyof Events & string>(
    type: K,
    listener: (event: CustomEvent<Events[K]>) => void,
  ): void {
    this.#target.removeEventListener(type, listener as (event: Event) => void)
  }

  protected emit<K extends keyof Events & string>(type: K, detail: Events[K]): void {
    this.#target.dispatchEvent(new CustomEvent(type, { detail }))
  }
}
