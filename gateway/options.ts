/**
 * The gateway's own options, each written once, as gunicorn's `config.py`
 * writes its settings: the key `serve` takes, the command line's flag, the
 * default, its unit and one line of help. The defaults the gateway applies,
 * the keys `serve` keeps from `Deno.serve`, the command line's usage and
 * its parsing come from here; a test holds the README, docs/limits.md and
 * the contract's JSDoc to the same defaults.
 *
 * @module
 */

import type { GatewayOptions } from "../types.ts";

/** One option: a key of {@linkcode GatewayOptions} and how it is given. */
export interface Setting {
  key: keyof GatewayOptions;
  /** The command line's flag; none for an option only code can pass. */
  flag?: string;
  /** What the gateway takes when the option is absent; 0 is off. */
  default?: number;
  unit?: "bytes" | "fields" | "seconds";
  /** The group `--help` lists it under. */
  group: "logging" | "limits" | "timeouts" | "code";
  /** One line for `--help` (what happens past it, for a limit). */
  help: string;
}

/** Every gateway option, in the order `--help` and the docs list them. */
export const SETTINGS = [
  {
    key: "errors",
    group: "code",
    help: "wsgi.errors for every request (standard error)",
  },
  {
    key: "multiprocess",
    group: "code",
    help: "wsgi.multiprocess, for several processes serving the app",
  },
  {
    key: "accessLog",
    flag: "--access-log",
    group: "logging",
    help: "one Common Log Format line per request",
  },
  {
    key: "trace",
    flag: "--trace",
    group: "logging",
    help: "print every step of every request's flow",
  },
  {
    key: "limitRequestTarget",
    flag: "--limit-request-target",
    default: 8192,
    unit: "bytes",
    group: "limits",
    help: "longest path and query, else 414",
  },
  {
    key: "limitRequestFields",
    flag: "--limit-request-fields",
    default: 0,
    unit: "fields",
    group: "limits",
    help: "most header fields, else 431 (Deno alone: 400 past 128)",
  },
  {
    key: "limitRequestFieldSize",
    flag: "--limit-request-field-size",
    default: 0,
    unit: "bytes",
    group: "limits",
    help: "longest header field, else 431",
  },
  {
    key: "limitRequestBody",
    flag: "--limit-request-body",
    default: 100 * 1024 * 1024,
    unit: "bytes",
    group: "limits",
    help: "largest body, else 413",
  },
  {
    key: "readTimeout",
    flag: "--read-timeout",
    default: 60,
    unit: "seconds",
    group: "timeouts",
    help: "an upload silent this long fails, 408",
  },
  {
    key: "sendTimeout",
    flag: "--send-timeout",
    default: 60,
    unit: "seconds",
    group: "timeouts",
    help: "a client that reads nothing this long: its body is stopped",
  },
  {
    key: "slowAppWarning",
    flag: "--slow-app-warning",
    default: 10,
    unit: "seconds",
    group: "timeouts",
    help: "log an application silent this long",
  },
  {
    key: "appTimeout",
    flag: "--app-timeout",
    default: 30,
    unit: "seconds",
    group: "timeouts",
    help: "answer 503 for an application silent this long",
  },
] as const satisfies readonly Setting[];

// Every key of GatewayOptions is in the table: else this fails to compile.
const _complete: Exclude<
  keyof GatewayOptions,
  (typeof SETTINGS)[number]["key"]
> extends never ? true : never = true;

/** The options that hold a number: the limits and timeouts. */
export type Tuning = Extract<(typeof SETTINGS)[number], { default: number }>;

/** The option's value in `options`, or its default. */
export function setting(options: GatewayOptions, key: Tuning["key"]): number {
  return options[key] ??
    (SETTINGS as readonly Setting[]).find((s) => s.key === key)!.default!;
}

/**
 * `options` without the gateway's keys: what `Deno.serve` takes. Built
 * from the table, so a new option never reaches Deno by mistake.
 */
export function denoOptions<T extends GatewayOptions>(
  options: T,
): Omit<T, keyof GatewayOptions> {
  const rest: Record<string, unknown> = { ...options as object };
  for (const { key } of SETTINGS) delete rest[key];
  return rest as Omit<T, keyof GatewayOptions>;
}
