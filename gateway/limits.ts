/**
 * What a request must meet before the application runs: a Host that is a
 * host and port (400), and the size limits on the target (414), the header
 * fields (431) and a declared body (413). Deno's parser already refuses a
 * head over 64 KiB or with more than 128 fields (a 400); these checks cover
 * the rest, and read only what they must: the URL and the Host always,
 * Content-Length only when a body can come, every header only when a
 * header limit is set. `docs/limits.md` has the measurements.
 *
 * @module
 */

import type { ErrorStream, GatewayOptions } from "../types.ts";
import type { Watchers } from "./log.ts";
import { setting } from "./options.ts";
import {
  declaredLength,
  type Head,
  targetLength,
  targetOf,
  validHost,
} from "./head.ts";

/** The size limits in force; 0 (or absent) is no limit. */
export interface Limits {
  target: number;
  fields: number;
  fieldSize: number;
  body: number;
}

/** The limits an options object asks for, with the defaults filled in. */
export function limits(options: GatewayOptions): Limits {
  return {
    target: setting(options, "limitRequestTarget"),
    fields: setting(options, "limitRequestFields"),
    fieldSize: setting(options, "limitRequestFieldSize"),
    body: setting(options, "limitRequestBody"),
  };
}

/**
 * The refusal a request has earned, or undefined when it is within every
 * limit. The refusal is logged in one line naming the limit, and in the
 * access log when it is on.
 */
export function refuse(
  request: Request,
  head: Head,
  info: Deno.ServeHandlerInfo | undefined,
  { limits, errors, watch }: {
    limits: Limits;
    errors: ErrorStream;
    watch?: Watchers;
  },
): Response | undefined {
  const broken = breach(request.method, head, limits);
  if (broken === undefined) return undefined;
  const [status, why] = broken;
  const target = targetOf(head);
  const path = target.length > 80 ? `${target.slice(0, 80)}…` : target;
  try {
    errors.write(`[wsgi] ${request.method} ${path}: ${status}, ${why}\n`);
  } catch {
    // A broken error stream must not turn a refusal into a crash.
  }
  try {
    watch?.(undefined, request, target, info).end(
      status,
      refusalText(status, why),
    );
  } catch {
    // A broken access log must not turn a refusal into a crash either.
  }
  return refusal(status, why);
}

/** The first limit the request breaks: its status, and why. */
function breach(
  method: string,
  head: Head,
  limits: Limits,
): [status: number, why: string] | undefined {
  const { host, headers } = head;
  // No Host is served: HTTP/1.0 needs none, and Deno does not say which
  // version the client spoke (docs/gateway.md).
  if (host !== null && !validHost(host)) {
    const shown = JSON.stringify(host.length > 80 ? host.slice(0, 80) : host);
    return [
      400,
      `the Host header ${shown} is not a host and an optional port (RFC 9110, section 7.2)`,
    ];
  }
  const target = targetLength(head);
  if (limits.target > 0 && target > limits.target) {
    return [
      414,
      `the request target is ${target} bytes, over limitRequestTarget (${limits.target})`,
    ];
  }
  if (limits.fields > 0 || limits.fieldSize > 0) {
    let count = 0;
    let longest = 0;
    headers.forEach((value, name) => {
      count++;
      longest = Math.max(longest, name.length + 2 + value.length);
    });
    if (limits.fields > 0 && count > limits.fields) {
      return [
        431,
        `the request has ${count} header fields, over limitRequestFields (${limits.fields})`,
      ];
    }
    if (limits.fieldSize > 0 && longest > limits.fieldSize) {
      return [
        431,
        `a header field is ${longest} bytes, over limitRequestFieldSize (${limits.fieldSize})`,
      ];
    }
  }
  // Deno drops the body of a GET or HEAD: there is nothing to measure.
  if (limits.body > 0 && method !== "GET" && method !== "HEAD") {
    const declared = declaredLength(headers);
    if (declared > limits.body) {
      return [
        413,
        `Content-Length says ${declared} bytes, over limitRequestBody (${limits.body})`,
      ];
    }
  }
}

const REASONS: Record<number, string> = {
  400: "Bad Request",
  408: "Request Timeout",
  413: "Content Too Large",
  414: "URI Too Long",
  431: "Request Header Fields Too Large",
  503: "Service Unavailable",
};

/**
 * The gateway's own answer to a request it will not (or can no longer)
 * serve: the status, its reason and what was wrong with the request, as
 * plain text. Deno owns the connection: it frames what comes next, and a
 * `Connection` header of ours would only go out beside the client's.
 */
export function refusal(status: number, why?: string): Response {
  return new Response(refusalText(status, why), {
    status,
    statusText: REASONS[status],
    headers: { "content-type": "text/plain; charset=utf-8" },
  });
}

/** The body of {@linkcode refusal}, which the access log measures. */
export function refusalText(status: number, why?: string): string {
  const reason = REASONS[status];
  return why === undefined ? `${reason}\n` : `${reason}: ${why}\n`;
}
