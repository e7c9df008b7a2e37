/**
 * The timeouts the gateway owns: an upload that stalls, a client that stops
 * reading, an application that does not answer. Each is a deadline on the
 * server's clock (`clock.ts`), looked at only while something waits; a
 * request answered synchronously registers nothing. Deno offers no
 * header-read or idle keep-alive timeout: `docs/limits.md` names the proxy
 * settings that bound those.
 *
 * @module
 */

import type { GatewayOptions } from "../types.ts";
import type { Clock, Due } from "./clock.ts";
import { setting } from "./options.ts";

/** The timeouts in force, in seconds; 0 is no timeout. */
export interface Timeouts {
  read: number;
  send: number;
  slowApp: number;
  app: number;
}

/** The timeouts an options object asks for, with the defaults filled in. */
export function timeouts(options: GatewayOptions): Timeouts {
  return {
    read: setting(options, "readTimeout"),
    send: setting(options, "sendTimeout"),
    slowApp: setting(options, "slowAppWarning"),
    app: setting(options, "appTimeout"),
  };
}

/** What the deadline needs of an exchange. */
export interface Answering {
  log(what: string): void;
  /** From now on, a client that goes away fires the deadline's signal. */
  followClient(): void;
  /** The answer is there: the client is no longer watched this way. */
  answered(): void;
  /** The application ran out of time: the answer to send instead. */
  expire(seconds: number): Response;
  /**
   * Milliseconds the application's reads of `wsgi.input` have waited on
   * the client by `now` (a `performance.now()`).
   */
  waited(now: number): number;
  /** The application's result, once it comes, becomes the response. */
  respond(result: unknown): Response | Promise<Response>;
  /** What the application threw or rejected with becomes the response. */
  fail(error: unknown): Response;
}

/**
 * Waits for an application's answer. From the clock's first look after a
 * whole tick, a client that goes away fires `deno.signal` (a request
 * answered within a tick never touches Deno's request signal); after
 * `slowApp` seconds, one log line; after `app` seconds, the exchange's own
 * answer instead, and the application's, if it ever comes, is thrown away.
 *
 * Both count the application's own time: the time passed less the time its
 * reads of `wsgi.input` waited on the client (`readTimeout` bounds those),
 * so a slow upload is not a silent application. Each fires within one tick
 * of the clock of its time.
 */
export function deadline(
  exchange: Answering,
  pending: Promise<unknown>,
  timeouts: Timeouts,
  clock: Clock,
  /** `pending` is the response itself, not the application's result. */
  responding = false,
): Promise<Response> {
  const answer = Promise.withResolvers<Response>();
  const waiting = new Waiting(exchange, timeouts, clock, answer.resolve);
  clock.add(waiting);
  waiting.started = clock.now;
  const done = (response: Response) => {
    waiting.over();
    answer.resolve(response);
  };
  // The answer never stays pending: what throws on the way rejects it (Deno
  // answers 500), as the promise it waits for would have.
  const broken = (error: unknown) => {
    waiting.over();
    answer.reject(error);
  };
  const failed = (error: unknown) => {
    try {
      done(exchange.fail(error));
    } catch (error) {
      broken(error);
    }
  };
  // A streamed body is answered at its first chunk: the wait goes on.
  const respond = (result: unknown) => {
    try {
      const response = responding
        ? result as Response
        : exchange.respond(result);
      if (response instanceof Promise) response.then(done, failed);
      else done(response);
    } catch (error) {
      broken(error);
    }
  };
  pending.then(respond, failed);
  return answer.promise;
}

/** An answer still pending, as the clock looks at it. */
class Waiting implements Due {
  clockIndex = -1;
  #exchange: Answering;
  #timeouts: Timeouts;
  #clock: Clock;
  #expired: (response: Response) => void;
  /** When the wait began, by the clock (set once it runs). */
  started = 0;
  #following = false;
  #warned = false;
  #over = false;

  constructor(
    exchange: Answering,
    timeouts: Timeouts,
    clock: Clock,
    expired: (response: Response) => void,
  ) {
    this.#exchange = exchange;
    this.#timeouts = timeouts;
    this.#clock = clock;
    this.#expired = expired;
  }

  tick(now: number): boolean {
    if (this.#over) return false;
    const exchange = this.#exchange;
    const { slowApp, app } = this.#timeouts;
    const passed = now - this.started;
    if (!this.#following && passed >= this.#clock.tick) {
      this.#following = true;
      exchange.followClient();
    }
    const own = (passed - exchange.waited(now)) / 1000;
    if (slowApp > 0 && !this.#warned && own >= slowApp) {
      this.#warned = true;
      exchange.log(
        `the application has not answered after ${
          (passed / 1000).toFixed(1)
        } s`,
      );
    }
    if (app > 0 && own >= app) {
      this.#over = true;
      this.#expired(exchange.expire(app));
      return false;
    }
    return true;
  }

  /** The answer came: nothing more to watch. */
  over(): void {
    this.#over = true;
    this.#clock.delete(this);
    this.#exchange.answered();
  }
}
