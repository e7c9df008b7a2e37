/**
 * What the request's head says, read once for every part of the gateway:
 * the target (from the request line alone), the Host, and the declared
 * length of the body.
 *
 * Deno gives no request line: `request.url` is `scheme://authority` and the
 * target, where the authority is the Host header as the client wrote it. A
 * Host of `x/admin` makes the URL `http://x/admin/hello`, so the target is
 * found past the Host itself, never at the URL's first `/`.
 *
 * @module
 */

/**
 * What the environ and the access log say of every request: `Deno.serve`
 * does not tell which version the client spoke (docs/gateway.md).
 */
export const SERVER_PROTOCOL = "HTTP/1.1";

/** What the gateway reads of every request before anything else. */
export interface Head {
  /** `request.url`: `scheme://authority` and the target. */
  url: string;
  /** The request's headers, fetched once for every reader. */
  headers: Headers;
  /** The Host header as sent, or null. */
  host: string | null;
  /**
   * Where the target starts in `url`, once found (-1 before): the limits,
   * the access log and the environ each ask.
   */
  start: number;
}

/** Reads a request's head: the URL, and the Host among its headers. */
export function headOf(request: Request): Head {
  const headers = request.headers;
  return { url: request.url, headers, host: headers.get("host"), start: -1 };
}

/**
 * Where the target starts in `url`: past the Host when Deno wrote it there,
 * else (an absolute-form target, HTTP/2's `:authority`, Deno's fallback)
 * past an authority Deno parsed, which holds no `/`.
 */
function targetStart(head: Head): number {
  if (head.start !== -1) return head.start;
  const { url, host } = head;
  const authority = url.indexOf("://") + 3;
  const from = host !== null && url.startsWith(host, authority)
    ? authority + host.length
    : authority;
  const slash = url.indexOf("/", from);
  return head.start = slash === -1 ? url.length : slash;
}

/**
 * The request target as received, path and query (`REQUEST_URI`): cut out
 * as a string, so nothing in it is normalized, whatever the Host holds.
 */
export function targetOf(head: Head): string {
  const { url } = head;
  const start = targetStart(head);
  const end = url.indexOf("#", start);
  return url.slice(start, end === -1 ? url.length : end) || "/";
}

/** The target's length in bytes as the client sent it (ASCII on the wire). */
export function targetLength(head: Head): number {
  return Math.max(1, head.url.length - targetStart(head));
}

/** The authority Deno wrote into `url`: the Host, or what stood in for it. */
export function authorityOf(head: Head): string {
  const { url } = head;
  return url.slice(url.indexOf("://") + 3, targetStart(head));
}

/**
 * An RFC 3986 authority with no user part: a registered name, an IPv4
 * address or a bracketed IPv6 literal, then an optional port. No `/`, `?`,
 * `#`, `@`, `\`, space or control can pass, so none can move the path.
 */
const HOST =
  /^(?:\[[0-9A-Za-z:.%_~-]+\]|(?:[\w.~!$&'()*+,;=-]|%[0-9A-Fa-f]{2})*)(?::[0-9]*)?$/;

/**
 * The last Host found valid: a server's clients mostly send the same one,
 * and comparing it costs less than the pattern (measured: the pattern was
 * the gateway's costliest function on the lesson's page).
 */
let lastValid = "";

/** Whether a Host header is a host and an optional port (RFC 9110 §7.2). */
export function validHost(host: string): boolean {
  if (host === lastValid) return true;
  if (!HOST.test(host)) return false;
  lastValid = host;
  return true;
}

/**
 * The body's declared length: Content-Length as a number (Deno joins equal
 * repeats as `3, 3` and refuses unequal ones), or -1 when none is declared.
 */
export function declaredLength(headers: Headers): number {
  const declared = headers.get("content-length");
  return declared === null ? -1 : Number(contentLength(declared));
}

/** A Content-Length value as the environ holds it: the first of a repeat. */
export function contentLength(value: string): string {
  return value.split(",", 1)[0].trim();
}
