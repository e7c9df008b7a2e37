/**
 * Python's `wsgiref.util` for our {@linkcode Environ}: rebuild the URL a
 * request was made to, walk the path one segment at a time, guess the
 * scheme, and fill a hand-made environ for tests. The semantics, edge cases
 * included, are wsgiref's; where this module differs, its documentation
 * says so.
 *
 * The one difference that shows in results: our `PATH_INFO` and
 * `SCRIPT_NAME` hold the path decoded as UTF-8, Python's hold it decoded as
 * latin-1, so {@linkcode requestUri} and {@linkcode applicationUri}
 * percent-encode as UTF-8 where wsgiref encodes as latin-1. For a request
 * whose path is valid UTF-8 both give back the bytes the client sent; the
 * results differ for an environ written by hand (`"/späm"` is `/sp%C3%A4m`
 * here and `/sp%E4m` in Python) and for a path that is not valid UTF-8.
 *
 * @example A router that takes one path segment per level
 * ```ts
 * import type { Application } from "@denowsgi/wsgi";
 * import { applicationUri, shiftPathInfo } from "@denowsgi/wsgi/util";
 *
 * const app: Application = (environ, startResponse) => {
 *   const section = shiftPathInfo(environ); // "/blog/7" → "blog", PATH_INFO "/7"
 *   startResponse("200 OK", [["Content-Type", "text/plain"]]);
 *   return [`${section} lives at ${applicationUri(environ)}\n`];
 * };
 * ```
 *
 * @module
 */

import type { Environ } from "./types.ts";
import { encoder } from "./gateway/bytes.ts";
import { standardError } from "./gateway/errors.ts";
import { headersOf } from "./gateway/environ.ts";
import { fileWrapper } from "./gateway/file_wrapper.ts";
import { Input } from "./gateway/input.ts";

/**
 * Like `wsgiref.util.guess_scheme`: `"https"` when the CGI variable `HTTPS`
 * is exactly `"on"`, `"yes"` or `"1"` (case matters, as in Python),
 * `"http"` otherwise.
 *
 * It reads `HTTPS` only, never `wsgi.url_scheme`: wsgiref uses it to fill
 * `wsgi.url_scheme` from CGI variables, and {@linkcode setupTestingDefaults}
 * does the same. Our gateway sets `wsgi.url_scheme` from the connection
 * (`https` under TLS) and sets no `HTTPS`, so for a request it served, read
 * `environ["wsgi.url_scheme"]`: there this function says `"http"`.
 *
 * @example
 * ```ts
 * import { guessScheme } from "@denowsgi/wsgi/util";
 *
 * guessScheme({ HTTPS: "on" }); // "https"
 * guessScheme({}); // "http"
 * ```
 */
export function guessScheme(environ: Partial<Environ>): "http" | "https" {
  const https = environ.HTTPS;
  return https === "on" || https === "yes" || https === "1" ? "https" : "http";
}

/**
 * Like `wsgiref.util.application_uri`: the URL of the application, without
 * `PATH_INFO` or `QUERY_STRING`. The host is `HTTP_HOST` when it is not
 * empty, else `SERVER_NAME` plus `:SERVER_PORT` unless the port is the
 * scheme's default (80 for http, 443 for https); then comes `SCRIPT_NAME`,
 * or `/` when it is empty.
 *
 * `SCRIPT_NAME` is percent-encoded as UTF-8 (wsgiref: as latin-1), keeping
 * letters, digits, `_.-~` and `/`.
 *
 * @example
 * ```ts
 * import { toFetchHandler } from "@denowsgi/wsgi";
 * import { applicationUri } from "@denowsgi/wsgi/util";
 *
 * const handler = toFetchHandler((environ, startResponse) => {
 *   startResponse("200 OK", [["Content-Type", "text/plain"]]);
 *   return [applicationUri(environ)];
 * });
 * await (await handler(new Request("http://localhost:8000/x?y=1"))).text(); // "http://localhost:8000/"
 * ```
 */
export function applicationUri(environ: Environ): string {
  return origin(environ) + quote(environ.SCRIPT_NAME || "/", SCRIPT_UNSAFE);
}

/**
 * Like `wsgiref.util.request_uri`: the full URL of the request,
 * {@linkcode applicationUri} followed by `PATH_INFO` and, when
 * `includeQuery` is true and `QUERY_STRING` is not empty, `?` and the query
 * as it is.
 *
 * `PATH_INFO` is percent-encoded as UTF-8 (wsgiref: as latin-1), keeping
 * letters, digits, `_.-~` and `/;=,`. For a request the gateway served this
 * gives back what the client sent, except for escapes that decoding changed
 * for good: `%2F` comes back as `/` (as in Python) and invalid UTF-8 such as
 * a lone `%E9` comes back as `%EF%BF%BD` (Python gives `%E9`).
 * `REQUEST_URI` keeps the exact target.
 *
 * @example
 * ```ts
 * import { toFetchHandler } from "@denowsgi/wsgi";
 * import { requestUri } from "@denowsgi/wsgi/util";
 *
 * const handler = toFetchHandler((environ, startResponse) => {
 *   startResponse("200 OK", [["Content-Type", "text/plain"]]);
 *   return [requestUri(environ), " ", requestUri(environ, false)];
 * });
 * const response = await handler(new Request("http://localhost/caf%C3%A9?q=1"));
 * await response.text(); // "http://localhost/caf%C3%A9?q=1 http://localhost/caf%C3%A9"
 * ```
 */
export function requestUri(environ: Environ, includeQuery = true): string {
  return origin(environ) + target(environ, includeQuery);
}

/**
 * Like `wsgiref.util.shift_path_info`: moves the next segment of
 * `PATH_INFO` to the end of `SCRIPT_NAME` and returns it; returns
 * `undefined` (Python's `None`) when `PATH_INFO` is empty. Changes the
 * environ in place: copy it first to keep the original.
 *
 * As in wsgiref, empty and `.` segments are skipped except the last one,
 * `..` pops a segment off `SCRIPT_NAME` (and is returned), and a `PATH_INFO`
 * of `/` returns `""` and leaves `SCRIPT_NAME` ending in `/`, so an
 * application can tell `/x` from `/x/`. A `PATH_INFO` of `/.` returns
 * `undefined` and becomes `""`.
 *
 * A non-empty `PATH_INFO` must start with `/` (CGI says so): otherwise this
 * throws a `TypeError`, where wsgiref raises an `IndexError` or shifts a
 * meaningless segment.
 *
 * @example
 * ```ts
 * import { type Environ } from "@denowsgi/wsgi";
 * import { setupTestingDefaults, shiftPathInfo } from "@denowsgi/wsgi/util";
 *
 * const environ: Partial<Environ> = { SCRIPT_NAME: "/app", PATH_INFO: "/blog//7/" };
 * setupTestingDefaults(environ);
 * shiftPathInfo(environ); // "blog": SCRIPT_NAME "/app/blog", PATH_INFO "/7/"
 * shiftPathInfo(environ); // "7": SCRIPT_NAME "/app/blog/7", PATH_INFO "/"
 * shiftPathInfo(environ); // "": SCRIPT_NAME "/app/blog/7/", PATH_INFO ""
 * shiftPathInfo(environ); // undefined
 * ```
 */
export function shiftPathInfo(environ: Environ): string | undefined {
  const pathInfo = environ.PATH_INFO;
  if (!pathInfo) return undefined;
  if (!pathInfo.startsWith("/")) {
    throw new TypeError(
      `PATH_INFO must be empty or start with "/", not ${
        JSON.stringify(pathInfo)
      }`,
    );
  }
  const parts = pathInfo.split("/");
  const last = parts.length - 1;
  const middle = parts.slice(1, last).filter((p) => p !== "" && p !== ".");
  const [name, ...rest] = [...middle, parts[last]];

  let scriptName = normpath(`${environ.SCRIPT_NAME}/${name}`);
  if (scriptName.endsWith("/")) scriptName = scriptName.slice(0, -1);
  if (!name && !scriptName.endsWith("/")) scriptName += "/";

  environ.SCRIPT_NAME = scriptName;
  environ.PATH_INFO = ["", ...rest].join("/");
  // The last segment is never dropped as `.`: here is where it goes.
  return name === "." ? undefined : name;
}

/**
 * Like `wsgiref.util.setup_testing_defaults`: fills the keys a WSGI
 * environ needs with harmless values, for tests of applications and
 * middleware. It only adds what is missing (absent or `undefined`), never
 * replaces a value, and changes `environ` in place; afterwards TypeScript
 * knows it is a full {@linkcode Environ}.
 *
 * wsgiref's defaults, in its order: `SERVER_NAME` `"127.0.0.1"`,
 * `SERVER_PROTOCOL` `"HTTP/1.0"`, `HTTP_HOST` = `SERVER_NAME` (without the
 * port), `REQUEST_METHOD` `"GET"`, `SCRIPT_NAME` `""` and `PATH_INFO` `"/"`,
 * `wsgi.version` `[1, 0]`, `wsgi.run_once`, `wsgi.multithread` and
 * `wsgi.multiprocess` `false`, an empty `wsgi.input`, `wsgi.url_scheme`
 * from {@linkcode guessScheme}, and `SERVER_PORT` `"443"` for https or
 * `"80"` otherwise. Where this differs from wsgiref:
 *
 * - A key holding `undefined` counts as missing (JavaScript's optional
 *   property); Python's `setdefault` keeps a `None`. Write `HTTP_HOST: ""`
 *   to build a request without a Host header.
 * - When only one of `SCRIPT_NAME` and `PATH_INFO` is given, the other
 *   becomes `""` (wsgiref leaves it out, and its readers take it as `""`).
 * - `wsgi.errors` is the process's standard error, as in our gateway;
 *   wsgiref's is an in-memory `StringIO` that nobody reads.
 * - The keys our {@linkcode Environ} requires and wsgiref has no default
 *   for: `QUERY_STRING` `""`, `REQUEST_URI` and `RAW_URI` the quoted path
 *   and query (the target {@linkcode requestUri} ends with),
 *   `wsgi.input_terminated` `true`, the gateway's `wsgi.file_wrapper`, and
 *   `deno.request`: a body-less
 *   `Request` for {@linkcode requestUri} with `REQUEST_METHOD` and the
 *   `HTTP_*`, `CONTENT_TYPE` and `CONTENT_LENGTH` values as headers.
 *   A key holding something other than a string (a number, `null`, an
 *   object) is kept as it is, as wsgiref keeps it; the URL and the
 *   `Request` are then built as if it held its default.
 *   Building it throws a `TypeError` for what no `Request` can carry (a
 *   method such as `CONNECT`, a header value with a line break); give your
 *   own `deno.request` to test those.
 *
 * @example Calling an application with no server and no Request
 * ```ts
 * import type { Application, Environ } from "@denowsgi/wsgi";
 * import { setupTestingDefaults } from "@denowsgi/wsgi/util";
 *
 * const app: Application = (environ, startResponse) => {
 *   startResponse("200 OK", [["Content-Type", "text/plain"]]);
 *   return [`${environ.REQUEST_METHOD} ${environ.PATH_INFO}`];
 * };
 *
 * const environ: Partial<Environ> = { PATH_INFO: "/hola" };
 * setupTestingDefaults(environ);
 * const body = await app(environ, () => () => {}); // ["GET /hola"]
 * ```
 */
export function setupTestingDefaults(
  environ: Partial<Environ>,
): asserts environ is Environ {
  environ.SERVER_NAME ??= "127.0.0.1";
  environ.SERVER_PROTOCOL ??= "HTTP/1.0";
  environ.HTTP_HOST ??= environ.SERVER_NAME;
  environ.REQUEST_METHOD ??= "GET";
  const noPath = environ.SCRIPT_NAME === undefined &&
    environ.PATH_INFO === undefined;
  environ.SCRIPT_NAME ??= "";
  environ.PATH_INFO ??= noPath ? "/" : "";
  environ.QUERY_STRING ??= "";

  environ["wsgi.version"] ??= [1, 0];
  environ["wsgi.run_once"] ??= false;
  environ["wsgi.multithread"] ??= false;
  environ["wsgi.multiprocess"] ??= false;
  environ["wsgi.input"] ??= new Input(null);
  environ["wsgi.input_terminated"] ??= true;
  environ["wsgi.file_wrapper"] ??= fileWrapper;
  environ["wsgi.errors"] ??= standardError;
  environ["wsgi.url_scheme"] ??= guessScheme(environ);
  environ.SERVER_PORT ??= environ["wsgi.url_scheme"] === "https" ? "443" : "80";

  // A value that is not a string is kept, as wsgiref keeps it; the URL and
  // Request are built as if it were the default.
  const complete = { ...environ } as Environ;
  for (const [key, fallback] of Object.entries(URL_DEFAULTS)) {
    if (typeof complete[key] !== "string") complete[key] = fallback;
  }
  environ.REQUEST_URI ??= target(complete, true);
  environ.RAW_URI ??= environ.REQUEST_URI;
  environ["deno.request"] ??= new Request(requestUri(complete), {
    method: complete.REQUEST_METHOD,
    headers: headersOf(complete),
  });
}

/** What the URL of a testing environ is built from, when not a string. */
const URL_DEFAULTS: Record<string, string> = {
  REQUEST_METHOD: "GET",
  SCRIPT_NAME: "",
  PATH_INFO: "",
  QUERY_STRING: "",
  HTTP_HOST: "",
  SERVER_NAME: "127.0.0.1",
  SERVER_PORT: "80",
  "wsgi.url_scheme": "http",
};

/** `scheme://host[:port]`, the part of the URL before `SCRIPT_NAME`. */
function origin(environ: Environ): string {
  const scheme = environ["wsgi.url_scheme"];
  if (environ.HTTP_HOST) return `${scheme}://${environ.HTTP_HOST}`;
  const port = environ.SERVER_PORT;
  const defaultPort = scheme === "https" ? "443" : "80";
  return `${scheme}://${environ.SERVER_NAME}${
    port === defaultPort ? "" : `:${port}`
  }`;
}

/** The quoted path and, if asked, the query: what follows {@linkcode origin}. */
function target(environ: Environ, includeQuery: boolean): string {
  const path = quote(environ.PATH_INFO, PATH_UNSAFE);
  // With no SCRIPT_NAME the script part is already the leading "/".
  let uri = quote(environ.SCRIPT_NAME || "/", SCRIPT_UNSAFE) +
    (environ.SCRIPT_NAME ? path : path.slice(1));
  if (includeQuery && environ.QUERY_STRING) uri += `?${environ.QUERY_STRING}`;
  return uri;
}

// Python's `quote(s, safe=...)`: its always-safe set plus `safe`, per code
// point (the `u` flag), so a character's UTF-8 bytes are escaped together.
const SCRIPT_UNSAFE = /[^A-Za-z0-9_.~/-]/gu;
const PATH_UNSAFE = /[^A-Za-z0-9_.~/;=,-]/gu;

function quote(text: string, unsafe: RegExp): string {
  return text.replace(unsafe, (char) => {
    // A byte the gateway found outside valid UTF-8 (U+DC80 + the byte, as
    // Python's surrogateescape) goes back as that byte.
    const code = char.charCodeAt(0);
    if (code >= 0xdc80 && code <= 0xdcff) {
      return `%${(code - 0xdc00).toString(16).toUpperCase()}`;
    }
    let escaped = "";
    for (const byte of encoder.encode(char)) {
      escaped += `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
    }
    return escaped;
  });
}

/** Python's `posixpath.normpath`, which wsgiref applies to SCRIPT_NAME. */
function normpath(path: string): string {
  if (path === "") return ".";
  // POSIX lets exactly two leading slashes mean something else; three or
  // more are one.
  const root = path.startsWith("//") && !path.startsWith("///")
    ? "//"
    : path.startsWith("/")
    ? "/"
    : "";
  const segments: string[] = [];
  for (const segment of path.split("/")) {
    if (segment === "" || segment === ".") continue;
    if (
      segment !== ".." || (!root && (segments.length === 0 ||
        segments.at(-1) === ".."))
    ) {
      segments.push(segment);
    } else if (segments.length > 0) {
      segments.pop();
    }
  }
  return root + segments.join("/") || ".";
}
