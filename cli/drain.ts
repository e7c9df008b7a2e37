/**
 * A graceful stop, as gunicorn's: on SIGTERM or the first Ctrl+C stop
 * accepting, let the requests in flight finish within a grace period, then
 * end what is left, each body's close() called by the gateway as on any
 * aborted response; a second Ctrl+C quits at once.
 *
 * @module
 */

import type { Application, Body, Chunk } from "../types.ts";

/** What a body still running is ended with when the grace period is over. */
class GracefulTimeout extends Error {
  constructor(seconds: number) {
    super(`the graceful timeout (${seconds} s) ended it`);
    this.stack = this.message;
  }
}

/**
 * Counts the requests in flight (from the application call to the body's
 * close) and can end the bodies still running. It is a middleware, so it
 * works the same under `serve` and under `deno serve`.
 */
export class Drain {
  #inFlight = 0;
  /** Made only when someone waits: a sync request goes 0 → 1 → 0. */
  #idle?: PromiseWithResolvers<void>;
  /** How to end each body still running. */
  #running = new Set<(error: Error) => void>();

  /** Requests whose body has not been closed yet. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Resolves once no request is in flight. */
  idle(): Promise<void> {
    if (this.#inFlight === 0) return Promise.resolve();
    return (this.#idle ??= Promise.withResolvers()).promise;
  }

  /** Ends every body still running with `error`; returns how many. */
  end(error: Error): number {
    const running = [...this.#running];
    for (const stop of running) stop(error);
    return running.length;
  }

  /** `app`, its requests counted and its streamed bodies endable. */
  wrap(app: Application): Application {
    return (environ, startResponse) => {
      this.#inFlight++;
      let finished = false;
      const finish = () => {
        if (finished) return;
        finished = true;
        if (--this.#inFlight === 0 && this.#idle) {
          this.#idle.resolve();
          this.#idle = undefined;
        }
      };
      try {
        const result = app(environ, startResponse);
        return result instanceof Promise
          ? result.then((body) => this.#track(body, finish), (error) => {
            finish();
            throw error;
          })
          : this.#track(result, finish);
      } catch (error) {
        finish();
        throw error;
      }
    };
  }

  /** A body sent at once needs nothing; a stream is wrapped to be endable. */
  #track(body: Body, finish: () => void): Body {
    if (
      body === null || typeof body !== "object" || Array.isArray(body)
    ) {
      finish();
      return body;
    }
    const close = "close" in body && typeof body.close === "function"
      ? () => body.close!()
      : undefined;
    const running = this.#running;
    let completed = false;
    let stopped: Error | undefined;
    // The waiting step of an async body, to fail when the grace period is
    // over. Each step races a promise of its own, dropped once the step is
    // done: racing one promise that never settles would keep a reaction for
    // every chunk of an endless stream.
    let interrupt: ((error: Error) => void) | undefined;
    const stop = (error: Error) => {
      stopped = error;
      interrupt?.(error);
    };
    running.add(stop);
    // The gateway calls this once, however the response ended; the body
    // gets what the gateway would have given it unwrapped.
    const closeAll = async (unfinished: { return?(): unknown }) => {
      running.delete(stop);
      try {
        await Promise.all([
          completed ? undefined : unfinished.return?.(),
          close?.(),
        ]);
      } finally {
        finish();
      }
    };
    const seen = (step: IteratorResult<Chunk>) => {
      if (step.done) completed = true;
      return step;
    };
    if (!(Symbol.asyncIterator in body)) {
      // A sync body stays sync: a promise per chunk would triple its cost.
      const iterator = body[Symbol.iterator]();
      const wrapped: IterableIterator<Chunk> & { close(): Promise<void> } = {
        [Symbol.iterator]: () => wrapped,
        next: () => {
          if (stopped) throw stopped;
          return seen(iterator.next());
        },
        close: () => closeAll(iterator),
      };
      return wrapped;
    }
    const iterator = body[Symbol.asyncIterator]();
    const wrapped: AsyncIterableIterator<Chunk> & { close(): Promise<void> } = {
      [Symbol.asyncIterator]: () => wrapped,
      next: async () => {
        if (stopped) throw stopped;
        const interrupted = new Promise<never>((_, reject) => {
          interrupt = reject;
        });
        try {
          return seen(await Promise.race([iterator.next(), interrupted]));
        } finally {
          interrupt = undefined;
        }
      },
      close: () => closeAll(iterator),
    };
    return wrapped;
  }
}

/** How {@linkcode stopGracefully} stops and speaks. */
export interface GracefulStop {
  /** Seconds the requests in flight get before they are ended. */
  timeout: number;
  /** Stops accepting; resolves once every server has finished. */
  stop(): Promise<void>;
  /** Where the lines for the operator go; a warning says something was cut. */
  say(line: string, warning?: boolean): void;
  /** Another reason to stop, as SIGTERM would: a worker's supervisor gone. */
  also?: Promise<unknown>;
}

/**
 * How long the bodies ended at the graceful timeout get for their close()
 * before the process stops anyway.
 */
export const CLOSE_MS = 1000;

/** What stops a server: Ctrl+C, and SIGTERM where there is one. */
export const STOP_SIGNALS: Deno.Signal[] = Deno.build.os === "windows"
  ? ["SIGINT"]
  : ["SIGINT", "SIGTERM"];

/**
 * Waits for SIGTERM or Ctrl+C, then stops as gunicorn does; resolves once
 * stopped. A second Ctrl+C exits at once with 130, until the process ends.
 */
export function stopGracefully(drain: Drain, how: GracefulStop): Promise<void> {
  const stopped = Promise.withResolvers<void>();
  let stopping = false;
  const onSignal = () => {
    if (stopping) Deno.exit(130);
    stopping = true;
    const waiting = drain.inFlight;
    if (waiting > 0) {
      how.say(
        `Stopping: waiting for ${plural(waiting, "request")} in flight ` +
          `(up to ${how.timeout} s; Ctrl+C again to quit now)`,
      );
    }
    // The grace period is a promise to the operator: once it is over, the
    // bodies still running are ended, their close() given a moment, and the
    // process stops whatever is left (an app whose promise never settles).
    const timer = setTimeout(() => {
      const ended = drain.end(new GracefulTimeout(how.timeout));
      const left = drain.inFlight - ended;
      const parts = [
        ended > 0 ? `ended ${plural(ended, "response")} still running` : "",
        left > 0
          ? `left ${plural(left, "application")} that never answered`
          : "",
      ].filter(Boolean);
      if (parts.length > 0) {
        how.say(
          `Graceful timeout (${how.timeout} s): ${parts.join("; ")}`,
          true,
        );
      }
      setTimeout(() => stopped.resolve(), CLOSE_MS);
    }, how.timeout * 1000);
    how.stop().then(() => drain.idle()).finally(() => {
      clearTimeout(timer);
      stopped.resolve();
    });
  };
  // Never removed: removing a listener after a signal has come can let the
  // process die of that signal (seen under deno serve --parallel, Deno 2.9).
  for (const signal of STOP_SIGNALS) Deno.addSignalListener(signal, onSignal);
  // Already stopping is enough: the supervisor gone is no second Ctrl+C.
  how.also?.then(() => stopping || onSignal());
  return stopped.promise;
}

function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? "" : "s"}`;
}
