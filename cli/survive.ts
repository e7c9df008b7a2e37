/**
 * What the command line's process survives: an application's stray error,
 * a promise that rejects with nobody to handle it or a throw in a timer,
 * is logged in one entry and the server goes on, as a gunicorn worker logs
 * an error and serves the next request. A native crash or running out of
 * memory it cannot survive: the supervisor restarts the worker then.
 *
 * @module
 */

import { explain } from "../gateway/exchange.ts";
import { say } from "./logs.ts";

/**
 * From now on a stray error is written to `write` (standard error) and the
 * process goes on. Deno needs both listeners, each preventing the default,
 * which ends the process.
 */
export function keepGoing(
  write: (text: string) => void = (text) => say(text, "error"),
): void {
  addEventListener("unhandledrejection", (event) => {
    event.preventDefault();
    write(
      `[wsgi] a promise rejected with nobody to handle it, outside any request's answer; the server goes on\n${
        explain(event.reason)
      }`,
    );
  });
  addEventListener("error", (event) => {
    event.preventDefault();
    write(
      `[wsgi] an error was thrown outside any request's answer (in a timer or a callback); the server goes on\n${
        explain(event.error)
      }`,
    );
  });
}
