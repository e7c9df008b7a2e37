/**
 * The bridge from the rest of Deno into WSGI: {@linkcode fromFetchHandler}
 * turns any fetch handler (Hono's `app.fetch`, Oak's, Fresh's, a
 * hand-written one) into a WSGI application, as Python's `a2wsgi` turns an
 * ASGI app into one. With `toFetchHandler` for the other way, a fetch
 * handler can be mounted inside a WSGI dispatcher, and a WSGI application
 * inside a fetch-handler router.
 *
 * @example A fetch handler mounted under /api beside a WSGI site
 * ```ts
 * import { type Application, serve } from "@denowsgi/wsgi";
 * import { fromFetchHandler } from "@denowsgi/wsgi/fetch";
 * import { mount } from "@denowsgi/wsgi/mount";
 *
 * const api = fromFetchHandler((request) => {
 *   // GET /api/hora: the handler sees http://host/hora
 *   return Response.json({ path: new URL(request.url).pathname });
 * });
 * const site: Application = (_environ, startResponse) => {
 *   startResponse("200 OK", [["Content-Type", "text/plain"]]);
 *   return ["la portada\n"];
 * };
 * const app = mount({ "/": site, "/api": api });
 *
 * serve(app, { hostname: "localhost", port: 8000 });
 * ```
 *
 * @module
 */

import type { Application, Body, Environ, Header } from "./types.ts";
import { headersOf } from "./gateway/environ.ts";
import { HOP_BY_HOP } from "./gateway/rules.ts";
import { requestUri } from "./util.ts";

/**
 * What {@linkcode fromFetchHandler} takes: a function from a `Request` to a
 * `Response`, as `Deno.serve` calls it.
 *
 * @example
 * ```ts
 * import type { AnyFetchHandler } from "@denowsgi/wsgi/fetch";
 *
 * const hello: AnyFetchHandler = () => new Response("hola");
 * ```
 */
export type AnyFetchHandler = (
  request: Request,
  info?: Deno.ServeHandlerInfo,
) => Response | Promise<Response>;

/**
 * Options for {@linkcode fromFetchHandler}.
 *
 * @example
 * ```ts
 * import type { FromFetchOptions } from "@denowsgi/wsgi/fetch";
 *
 * const options: FromFetchOptions = { keepScriptName: true };
 * ```
 */
export interface FromFetchOptions {
  /**
   * Give the handler the whole path, `SCRIPT_NAME` and `PATH_INFO`, for a
   * router that knows its own prefix; by default it sees `PATH_INFO` only,
   * as if it were served at the root (Hono's `mount` does the same).
   */
  keepScriptName?: boolean;
}

/**
 * Turns a fetch handler into a WSGI application. Per request:
 *
 * - the handler's `Request` has the URL rebuilt from the environ
 *   (`requestUri`, so the host and query are the client's), with
 *   `PATH_INFO` as its path unless `keepScriptName`; the method; the
 *   headers from `HTTP_*`, `CONTENT_TYPE` and `CONTENT_LENGTH` (hop-by-hop
 *   ones left out); and, when the request has one, a body streamed from
 *   `wsgi.input` as the handler reads it (in pieces of up to 64 KiB);
 * - the second argument is the connection info (`deno.info`) when there is
 *   one;
 * - its `Response` becomes the status (with the standard reason phrase
 *   when the response has none), the headers (every Set-Cookie kept,
 *   hop-by-hop ones left out) and a body streamed as the client reads;
 *   `close()` cancels the response's stream, so a client that goes away
 *   (or a HEAD) stops the handler's work.
 *
 * What the handler throws is the application's error: a 500 and its stack
 * in `wsgi.errors`.
 *
 * @example
 * ```ts
 * import { fromFetchHandler } from "@denowsgi/wsgi/fetch";
 * import { Client } from "@denowsgi/wsgi/testing";
 *
 * const app = fromFetchHandler(async (request) =>
 *   new Response(`${request.method} ${await request.text()}`)
 * );
 * (await new Client(app).post("/", { body: "hola" })).text; // "POST hola"
 * ```
 */
export function fromFetchHandler(
  handler: AnyFetchHandler,
  options: FromFetchOptions = {},
): Application {
  return async (environ, startResponse) => {
    let request: Request;
    try {
      request = toRequest(environ, options);
    } catch (error) {
      // A Host header no URL can hold: the client's fault, not the app's.
      environ["wsgi.errors"].write(
        `[wsgi] ${environ.REQUEST_METHOD} ${environ.REQUEST_URI}: 400 the request's URL cannot be rebuilt for the fetch handler (${error})\n`,
      );
      startResponse("400 Bad Request", [["Content-Type", "text/plain"]]);
      return ["Bad Request\n"];
    }
    const response = await handler(request, environ["deno.info"]);
    const headers: Header[] = [];
    response.headers.forEach((value, name) => {
      if (!HOP_BY_HOP.has(name)) headers.push([name, value]);
    });
    const reason = response.statusText || REASONS[response.status] ||
      "Unknown";
    startResponse(`${response.status} ${reason}`, headers);
    return response.body === null ? [] : streamed(response.body);
  };
}

function toRequest(environ: Environ, options: FromFetchOptions): Request {
  const url = requestUri(
    options.keepScriptName ? environ : { ...environ, SCRIPT_NAME: "" },
  );
  const headers = headersOf(environ);
  for (const name of HOP_BY_HOP) headers.delete(name);
  const method = environ.REQUEST_METHOD;
  const hasBody = method !== "GET" && method !== "HEAD" &&
    environ.CONTENT_LENGTH !== "0" &&
    (environ.CONTENT_LENGTH !== undefined ||
      environ["deno.request"]?.body != null);
  const input = environ["wsgi.input"];
  return new Request(url, {
    method,
    headers,
    body: hasBody
      ? new ReadableStream<Uint8Array>({
        async pull(controller) {
          const chunk = await input.read(64 * 1024);
          if (chunk.byteLength === 0) controller.close();
          else controller.enqueue(chunk);
        },
      })
      : null,
  });
}

/** A response stream as a body; closing it cancels the stream. */
function streamed(stream: ReadableStream<Uint8Array>): Body {
  const reader = stream.getReader();
  return {
    async *[Symbol.asyncIterator]() {
      for (let step = await reader.read(); !step.done;) {
        yield step.value;
        step = await reader.read();
      }
    },
    async close() {
      await reader.cancel().catch(() => {});
    },
  };
}

/** RFC 9110's reason phrases, for a Response built without one. */
const REASONS: Record<number, string> = {
  200: "OK",
  201: "Created",
  202: "Accepted",
  203: "Non-Authoritative Information",
  204: "No Content",
  205: "Reset Content",
  206: "Partial Content",
  300: "Multiple Choices",
  301: "Moved Permanently",
  302: "Found",
  303: "See Other",
  304: "Not Modified",
  307: "Temporary Redirect",
  308: "Permanent Redirect",
  400: "Bad Request",
  401: "Unauthorized",
  402: "Payment Required",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  406: "Not Acceptable",
  407: "Proxy Authentication Required",
  408: "Request Timeout",
  409: "Conflict",
  410: "Gone",
  411: "Length Required",
  412: "Precondition Failed",
  413: "Content Too Large",
  414: "URI Too Long",
  415: "Unsupported Media Type",
  416: "Range Not Satisfiable",
  417: "Expectation Failed",
  421: "Misdirected Request",
  422: "Unprocessable Content",
  426: "Upgrade Required",
  428: "Precondition Required",
  429: "Too Many Requests",
  431: "Request Header Fields Too Large",
  451: "Unavailable For Legal Reasons",
  500: "Internal Server Error",
  501: "Not Implemented",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
  505: "HTTP Version Not Supported",
};
