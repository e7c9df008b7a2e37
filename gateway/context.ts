/**
 * What every request of one gateway shares: where it listens, where errors
 * and logs go, and whether Deno frames the response on the wire.
 *
 * @module
 */

import type { Environ, ErrorStream, GatewayOptions } from "../types.ts";
import { standardError } from "./errors.ts";
import { type LogSink, standardOutput, type Watcher, watchers } from "./log.ts";

/** Where the server listens, once it does; empty with no server. */
export interface Listening {
  name?: string;
  port?: string;
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
  watch?: (environ: Environ) => Watcher;
}

export function context(options: GatewayOptions, onWire: boolean): Context {
  return {
    listening: {},
    onWire,
    errors: options.errors ?? standardError,
    multiprocess: options.multiprocess ?? false,
    watch: watchers(sink(options.accessLog), sink(options.trace)),
  };
}

function sink(option: boolean | LogSink | undefined): LogSink | undefined {
  return option === true ? standardOutput : option || undefined;
}
