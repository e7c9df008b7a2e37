/**
 * `environ["deno.signal"]`: an `AbortSignal` that fires when the client
 * goes away or the application's deadline passes, so a cooperative app can
 * stop its work. Nothing of it exists until the application reads it or
 * its answer is still pending after a turn of the event loop: an
 * AbortController costs, and Deno prints a notice once its own
 * `request.signal` is in use.
 *
 * @module
 */

/** Why `deno.signal` fired: the client went away. */
export const CLIENT_GONE: DOMException = new DOMException(
  "the client went away",
  "AbortError",
);

/** Why `deno.signal` fired: the application ran past `appTimeout`. */
export const EXPIRED: DOMException = new DOMException(
  "the application did not answer in time",
  "TimeoutError",
);

/** The signal of one request, made on demand. */
export class ClientSignal {
  #request: Request;
  #controller?: AbortController;
  /** Why the signal fired, or fires as soon as it is made. */
  #aborted?: unknown;
  /** Whether a client that goes away fires the signal. */
  #following = false;
  /** Stops listening to Deno's request signal. */
  #unhook?: () => void;

  constructor(request: Request) {
    this.#request = request;
  }

  /** The signal, made now. */
  signal(): AbortSignal {
    const controller = this.#controller = new AbortController();
    if (this.#aborted !== undefined) controller.abort(this.#aborted);
    else if (this.#following) this.#hook(controller);
    return controller.signal;
  }

  /** From now on, a client that goes away fires the signal too. */
  follow(): void {
    this.#following = true;
    if (this.#controller) this.#hook(this.#controller);
  }

  /**
   * The application has answered. From here Deno's request signal says
   * nothing about the client: it also fires when a response succeeds. A
   * client leaving a streamed body is seen by the stream instead.
   */
  answered(): void {
    this.#following = false;
    this.#unhook?.();
  }

  /** Fires the signal (or makes it fire when it is made). */
  abort(reason: unknown): void {
    this.#aborted = reason;
    this.#controller?.abort(reason);
  }

  #hook(controller: AbortController): void {
    const gone = this.#request.signal;
    if (gone.aborted) return controller.abort(gone.reason);
    const abort = () => controller.abort(gone.reason);
    gone.addEventListener("abort", abort, { once: true });
    this.#unhook = () => gone.removeEventListener("abort", abort);
  }
}
