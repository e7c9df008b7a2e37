/**
 * `wsgi.errors` as the gateway makes it, on standard error, and the one
 * write-all loop both standard streams use.
 *
 * @module
 */

import type { Environ, ErrorStream } from "../types.ts";
import { encoder } from "./bytes.ts";

/**
 * Writes all of `text` at once, so lines keep their order across stdout and
 * stderr (a stalled pipe stalls the writer: docs/gateway.md says so).
 */
export function writeText(
  to: { writeSync(bytes: Uint8Array): number },
  text: string,
): void {
  const bytes = encoder.encode(text);
  for (let sent = 0; sent < bytes.byteLength;) {
    sent += to.writeSync(bytes.subarray(sent));
  }
}

/**
 * A line about one request, as every part of the server writes it to
 * `wsgi.errors`: `[wsgi] GET /path: what happened`.
 */
export function requestLine(
  environ: Pick<Environ, "REQUEST_METHOD" | "REQUEST_URI">,
  what: string,
): string {
  return `[wsgi] ${environ.REQUEST_METHOD} ${environ.REQUEST_URI}: ${what}\n`;
}

/** `wsgi.errors` by default: the process's standard error. */
export const standardError: ErrorStream = {
  write(text) {
    writeText(Deno.stderr, text);
  },
  writelines(lines) {
    for (const line of lines) this.write(line);
  },
  flush() {},
};
