/**
 * The timeouts the gateway owns: an upload that stalls, a client that stops
 * reading, an application that does not answer. Each is a timer armed only
 * while something waits, and cleared on every path; none is armed for a
 * request that is answered synchronously. Deno offers no header-read or
 * idle keep-alive timeout: `docs/limits.md` names the proxy settings that
 * bound those.
 *
 * @module
 */

import type { GatewayOptions } from "../types.ts";
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

/**
 * Checks `stalled()` every `seconds` and calls `onStall` the first time it
 * says yes. One timer at a time, whatever happens between checks, so the
 * watched path pays nothing per step. Returns the function that stops it.
 */
export function alarm(
  seconds: number,
  stalled: () => boolean,
  onStall: () => void,
): () => void {
  const check = () => {
    if (stalled()) onStall();
    else timer = setTimeout(check, seconds * 1000);
  };
  let timer = setTimeout(check, seconds * 1000);
  return () => clearTimeout(timer);
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
  /** Whether such a read waits now. */
  readonly waiting: boolean;
}

/**
 * Waits for an application's answer, watching the client after a turn of
 * the event loop; after `slowApp` seconds, one log line;
 * after `app` seconds of the application's own time, the exchange's own
 * answer instead, and the application's, if it ever comes, is thrown away.
 *
 * The application's own time is the time passed less the time its reads of
 * `wsgi.input` waited on the client (`readTimeout` bounds those): a slow
 * upload is not a silent application. One timer at a time, as before: when
 * it fires with time left (reads waited), it is set again for what is left,
 * and, while a read still waits, no sooner than a tenth of `app` (so a
 * stalled upload costs a check every `app / 10` seconds, and the 503 may
 * come that much late when the time runs out just after a read).
 */
export function deadline(
  exchange: Answering,
  pending: Promise<Response>,
  { slowApp, app }: Timeouts,
): Promise<Response> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const warning = slowApp > 0
      ? setTimeout(() => {
        const took = ((performance.now() - started) / 1000).toFixed(1);
        exchange.log(`the application has not answered after ${took} s`);
      }, slowApp * 1000)
      : undefined;
    const budget = app * 1000;
    const check = () => {
      const now = performance.now();
      const left = budget - (now - started - exchange.waited(now));
      if (left > 0) {
        const floor = exchange.waiting ? budget / 10 : 0;
        expiry = setTimeout(check, Math.max(left, floor));
        return;
      }
      clearTimeout(warning);
      resolve(exchange.expire(app));
    };
    let expiry = app > 0 ? setTimeout(check, budget) : undefined;
    const turn = setTimeout(() => exchange.followClient(), 0);
    pending.then(resolve, reject).finally(() => {
      exchange.answered();
      clearTimeout(turn);
      clearTimeout(warning);
      clearTimeout(expiry);
    });
  });
}
