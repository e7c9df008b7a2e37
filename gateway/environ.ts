/**
 * Step 1 of a request: the environ, built from Deno's `Request` as PEP 3333
 * lays it out (CGI variables, `HTTP_*` headers, the `wsgi.*` keys).
 *
 * @module
 */

import type { Environ } from "../types.ts";
import { encoder } from "./bytes.ts";
import type { Context } from "./context.ts";
import { fileWrapper } from "./file_wrapper.ts";
import { Input } from "./input.ts";

/**
 * Builds the environ from the request. `request.url` is
 * `scheme://authority/target`: the target is cut out of it as a string, so
 * the query and any bad escapes in the path reach the application exactly
 * as they came.
 */
export function makeEnviron(
  request: Request,
  info: Deno.ServeHandlerInfo | undefined,
  { listening, errors, multiprocess }: Context,
): Environ {
  const url = request.url;
  const authorityStart = url.indexOf("://") + 3;
  let targetStart = url.indexOf("/", authorityStart);
  if (targetStart === -1) targetStart = url.length;
  let targetEnd = url.indexOf("#", targetStart);
  if (targetEnd === -1) targetEnd = url.length;
  const target = url.slice(targetStart, targetEnd) || "/";
  const queryStart = target.indexOf("?");
  const rawPath = queryStart === -1 ? target : target.slice(0, queryStart);
  const scheme = url.startsWith("https:") ? "https" : "http";
  const authority = url.slice(authorityStart, targetStart);
  const input = new Input(request);

  const environ: Environ = {
    REQUEST_METHOD: request.method,
    SCRIPT_NAME: "",
    PATH_INFO: decodePath(rawPath),
    QUERY_STRING: queryStart === -1 ? "" : target.slice(queryStart + 1),
    SERVER_NAME: listening.name ?? hostOf(authority),
    SERVER_PORT: listening.port ?? portOf(authority, scheme),
    SERVER_PROTOCOL: "HTTP/1.1",
    REQUEST_URI: target,
    RAW_URI: target,
    "wsgi.version": [1, 0],
    "wsgi.url_scheme": scheme,
    "wsgi.input": input,
    "wsgi.errors": errors,
    "wsgi.multithread": false,
    "wsgi.multiprocess": multiprocess,
    "wsgi.run_once": false,
    "wsgi.input_terminated": true,
    "wsgi.file_wrapper": fileWrapper,
    "deno.request": request,
  };
  if (info !== undefined) {
    environ["deno.info"] = info;
    const remote = info.remoteAddr as Deno.Addr;
    if (remote.transport === "tcp" || remote.transport === "udp") {
      environ.REMOTE_ADDR = remote.hostname;
      environ.REMOTE_PORT = String(remote.port);
    }
  }
  // forEach, not for…of: Deno's Headers iterator re-sorts at every step.
  request.headers.forEach((value, name) => {
    if (name === "content-type") environ.CONTENT_TYPE = value;
    // Deno joins a repeated Content-Length ("3, 3"); it refuses unequal ones.
    else if (name === "content-length") {
      environ.CONTENT_LENGTH = value.split(",", 1)[0].trim();
    } // An underscore name could pose as a dashed one once both become `_`.
    // A Headers object joins repeated Cookie lines with ", ", as Deno.serve
    // does not: cookies hold no ", " of their own (RFC 6265).
    else if (name === "cookie") {
      environ.HTTP_COOKIE = value.replaceAll(", ", "; ");
    } else if (!name.includes("_")) environ[cgiName(name)] = value;
  });
  if (environ.CONTENT_LENGTH !== undefined) {
    input.limit(Number(environ.CONTENT_LENGTH));
  }
  // HTTP/2 carries the host in :authority, which Deno keeps only in the URL.
  environ.HTTP_HOST ??= authority;
  return environ;
}

const cgiNames = new Map<string, `HTTP_${string}`>();

/** `user-agent` → `HTTP_USER_AGENT`, remembered: the same few names recur. */
function cgiName(name: string): `HTTP_${string}` {
  let cgi = cgiNames.get(name);
  if (cgi === undefined) {
    cgi = `HTTP_${name.toUpperCase().replaceAll("-", "_")}`;
    if (cgiNames.size < 512) cgiNames.set(name, cgi);
  }
  return cgi;
}

function hostOf(authority: string): string {
  const end = authority.startsWith("[")
    ? authority.indexOf("]") + 1
    : authority.lastIndexOf(":");
  return end > 0 ? authority.slice(0, end) : authority;
}

function portOf(authority: string, scheme: string): string {
  const colon = authority.lastIndexOf(":");
  return colon > authority.lastIndexOf("]")
    ? authority.slice(colon + 1)
    : scheme === "https"
    ? "443"
    : "80";
}

const utf8 = new TextDecoder();
// One escape, captured so that split() keeps it as a part of its own.
const ESCAPE = /(%[0-9a-fA-F]{2})/;

/**
 * Percent-decodes a path as UTF-8. Malformed escapes stay as they are and
 * invalid UTF-8 becomes U+FFFD, so it never throws; the exact bytes remain
 * in REQUEST_URI.
 */
function decodePath(raw: string): string {
  if (!raw.includes("%")) return raw;
  try {
    return decodeURIComponent(raw);
  } catch {
    // Escapes become bytes; the text between them is encoded whole, so a
    // character outside the BMP (two UTF-16 units) survives.
    const bytes: number[] = [];
    for (const part of raw.split(ESCAPE)) {
      if (ESCAPE.test(part)) bytes.push(parseInt(part.slice(1), 16));
      else bytes.push(...encoder.encode(part));
    }
    return utf8.decode(new Uint8Array(bytes));
  }
}

/**
 * The request headers an environ describes (`HTTP_*`, CONTENT_TYPE and
 * CONTENT_LENGTH): the way back from {@linkcode makeEnviron}.
 */
export function headersOf(environ: Environ): Headers {
  const headers = new Headers();
  for (const [key, value] of Object.entries(environ)) {
    if (typeof value !== "string") continue;
    const name = key.startsWith("HTTP_")
      ? key.slice(5)
      : key === "CONTENT_TYPE" || key === "CONTENT_LENGTH"
      ? key
      : undefined;
    if (name) headers.set(name.replaceAll("_", "-").toLowerCase(), value);
  }
  return headers;
}
