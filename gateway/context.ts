/**
 * What every request of one gateway shares: where it listens, where errors
 * and logs go, whether Deno frames the response on the wire, and the
 * limits and timeouts in force.
 *
 * @module
 */

import type { ErrorStream, GatewayOptions } from "../types.ts";
import { Clock } from "./clock.ts";
import { type Timeouts, timeouts } from "./deadline.ts";
import { standardError } from "./errors.ts";
import { type Limits, limits } from "./limits.ts";
import {
  type LogSink,
  spoolOf,
  standardOutputNow,
  standardOutputSpool,
  type Watchers,
  watchers,
} from "./log.ts";

/** Where the server listens, once it does; empty with no server. */
export interface Listening {
  name?: string;
  port?: string;
  /**
   * The connection's scheme, known under `serve`: the URL's is the
   * client's to write in an absolute-form target (`GET https://x/ HTTP/1.1`
   * over plain HTTP).
   */
  scheme?: "http" | "https";
  /** The authority Deno puts in `request.url` when a client sent no Host. */
  fallback?: string;
}

/** What every request of one gateway shares. */
export interface Context {
  listening: Listening;
  /**
   * True under `serve`: Deno.serve frames a fixed body itself (and drops it
   * for HEAD), faster than with a Content-Length of ours. A Response handed
   * to anyone else gets the header from the gateway.
   */
  onWire: boolean;
  errors: ErrorStream;
  multiprocess: boolean;
  watch?: Watchers;
  limits: Limits;
  timeouts: Timeouts;
  /** The one clock that looks at every deadline of this gateway. */
  clock: Clock;
}

export function context(options: GatewayOptions, onWire: boolean): Context {
  const given = timeouts(options);
  return {
    listening: {},
    onWire,
    errors: options.errors ?? standardError,
    multiprocess: options.multiprocess ?? false,
    // The trace on standard output tells the flow as it happens: its lines,
    // and the access log's there, go out at once, in order with the app's.
    watch: watchers(
      typeof options.accessLog === "object"
        ? spoolOf(options.accessLog, "the access log")
        : sink(
          options.accessLog,
          options.trace === true ? standardOutputNow : standardOutputSpool,
        ),
      sink(options.trace, standardOutputNow),
    ),
    limits: limits(options),
    timeouts: given,
    clock: new Clock(Object.values(given)),
  };
}

/** `true` is standard output (its spool or its lines); a function, itself. */
function sink<Standard>(
  option: boolean | LogSink | undefined,
  standard: Standard,
): Standard | LogSink | undefined {
  return option === true ? standard : option || undefined;
}
