/**
 * An in-process test client, in the spirit of Werkzeug's `test.Client` and
 * `Rack::MockRequest`: send a request to an application and get back its
 * status, headers, body and what it wrote to `wsgi.errors`, with no socket.
 *
 * Every request goes through {@linkcode toFetchHandler}, the gateway's own
 * path, so every rule the server applies applies here too: a broken contract
 * is a 500 with a line in {@linkcode TestResponse.errors}, not an exception
 * in the test.
 *
 * @example
 * ```ts
 * import { Client } from "@denowsgi/wsgi/testing";
 *
 * const client = new Client((environ, startResponse) => {
 *   startResponse("200 OK", [["Content-Type", "text/plain"]]);
 *   return [`Hola ${environ.PATH_INFO}\n`];
 * });
 * const response = await client.get("/mundo");
 * console.log(response.status, response.text); // 200 "Hola /mundo\n"
 * ```
 *
 * @module
 */

import type { Application, ErrorStream, GatewayOptions } from "./types.ts";
import { concat } from "./gateway/bytes.ts";
import { toFetchHandler } from "./gateway/serve.ts";

/**
 * Options for a {@linkcode Client}: the gateway's own, plus where the
 * requests seem to come from and go to.
 *
 * @example
 * ```ts
 * import { Client, type ClientOptions } from "@denowsgi/wsgi/testing";
 *
 * const options: ClientOptions = {
 *   baseUrl: "https://example.com/app/",
 *   remoteAddr: "203.0.113.7",
 * };
 * const client = new Client((_environ, startResponse) => {
 *   startResponse("204 No Content", []);
 *   return [];
 * }, options);
 * ```
 */
export interface ClientOptions extends GatewayOptions {
  /**
   * What relative request paths are resolved against, with the URL rules
   * (`"/x"` from the host's root, `"x"` from the base's folder); it also
   * gives `wsgi.url_scheme`, SERVER_NAME, SERVER_PORT and HTTP_HOST.
   * `"http://localhost"` by default.
   */
  baseUrl?: string;
  /**
   * The client's address, REMOTE_ADDR; `"127.0.0.1"` by default.
   * REMOTE_PORT is always `"50000"`.
   */
  remoteAddr?: string;
}

/**
 * A `RequestInit` plus shortcuts for the usual request bodies and the query.
 * Give at most one of `body`, `json` and `form`. One of known size gets a
 * Content-Length, as `fetch` sends it on the wire; a `ReadableStream` body
 * gets none, like a chunked upload. A `Request`'s own body keeps the
 * headers the `Request` has.
 *
 * @example
 * ```ts
 * import type { ClientRequestInit } from "@denowsgi/wsgi/testing";
 *
 * const init: ClientRequestInit = {
 *   query: { page: "2" },
 *   json: { nombre: "Ada" },
 *   headers: { Cookie: "sesion=abc" },
 * };
 * ```
 */
export interface ClientRequestInit extends RequestInit {
  /** Appended to the URL's query, after what the path already has. */
  query?: Record<string, string> | URLSearchParams;
  /**
   * Sent as JSON; Content-Type `application/json` unless the headers name
   * one.
   */
  json?: unknown;
  /**
   * Sent as `application/x-www-form-urlencoded`, as an HTML form posts.
   */
  form?: Record<string, string> | URLSearchParams;
}

/**
 * What the application sent back, read to the end.
 *
 * @example
 * ```ts
 * import { Client } from "@denowsgi/wsgi/testing";
 *
 * const client = new Client((_environ, startResponse) => {
 *   startResponse("201 Created", [["Content-Type", "application/json"]]);
 *   return ['{"id": 7}'];
 * });
 * const response = await client.post("/items", { json: { name: "x" } });
 * console.log(response.statusLine); // "201 Created"
 * console.log(response.json<{ id: number }>().id); // 7
 * ```
 */
export interface TestResponse {
  /** The status code, e.g. `200`. */
  status: number;
  /**
   * The reason phrase. The application's own, as it passed it to
   * startResponse (`"Todo bien"` stays `"Todo bien"`), although on a real
   * socket `Deno.serve` sends the standard phrase for the code instead.
   */
  statusText: string;
  /** `status` and `statusText` as one line, e.g. `"200 OK"`. */
  statusLine: string;
  /** The response headers, with the Content-Length the gateway adds. */
  headers: Headers;
  /** The body's bytes; empty for HEAD. */
  body: Uint8Array;
  /** The body decoded as UTF-8. */
  text: string;
  /** Parses the body as JSON. */
  json<T = unknown>(): T;
  /** Each string written to `wsgi.errors` while this request ran. */
  errors: string[];
  /**
   * True when the body broke off after the response had started (the
   * gateway aborts the transfer); `body` holds what arrived before.
   */
  aborted: boolean;
  /** The request that was sent (its body already read by the application). */
  request: Request;
}

const REMOTE_PORT = 50000;

/**
 * Calls an application in-process, as a browser or `curl` would call it on
 * a server, and reads each response to the end.
 *
 * Requests are independent: there is no cookie jar and no redirect
 * following; send a Cookie header and read `headers.getSetCookie()`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Client } from "@denowsgi/wsgi/testing";
 *
 * const client = new Client(async (environ, startResponse) => {
 *   const name = new TextDecoder().decode(await environ["wsgi.input"].read());
 *   startResponse("200 OK", [["Content-Type", "text/plain"]]);
 *   return [`Hola ${name}`];
 * });
 * const response = await client.post("/", { body: "Ada" });
 * assert.equal(response.text, "Hola Ada");
 * ```
 */
export class Client {
  #app: Application;
  #options: GatewayOptions;
  #baseUrl: string;
  #remoteAddr: string;

  /** Wraps `app`; `options` as {@linkcode ClientOptions} describes. */
  constructor(app: Application, options: ClientOptions = {}) {
    const {
      baseUrl = "http://localhost",
      remoteAddr = "127.0.0.1",
      ...gatewayOptions
    } = options;
    this.#app = app;
    this.#options = gatewayOptions;
    this.#baseUrl = baseUrl;
    this.#remoteAddr = remoteAddr;
  }

  /**
   * Sends a request: a path or URL (resolved against `baseUrl`) with
   * `init`, or a whole `Request`, which goes to the application untouched
   * when there is no `init`. Either way its own body keeps its own headers:
   * a Content-Length only if it has one.
   */
  async request(
    input: Request | string,
    init?: ClientRequestInit,
  ): Promise<TestResponse> {
    const request = await this.#toRequest(input, init);
    const errors: string[] = [];
    // A handler per request, so overlapping requests keep their errors apart.
    const handler = toFetchHandler(this.#app, {
      ...this.#options,
      errors: collecting(errors, this.#options.errors),
    });
    const completed = Promise.withResolvers<void>();
    // As on a server, nobody has to look at it.
    completed.promise.catch(() => {});
    const response = await handler(request, {
      remoteAddr: {
        transport: "tcp",
        hostname: this.#remoteAddr,
        port: REMOTE_PORT,
      },
      completed: completed.promise,
    });
    // Deno.serve sends no body for HEAD, whatever the handler returned.
    const head = request.method === "HEAD";
    if (head) await response.body?.cancel();
    const { body, aborted } = await readAll(head ? null : response.body);
    if (aborted) {
      completed.reject(new Deno.errors.Interrupted("the response was aborted"));
    } else completed.resolve();
    const text = new TextDecoder().decode(body);
    return {
      status: response.status,
      statusText: response.statusText,
      statusLine: `${response.status} ${response.statusText}`,
      headers: response.headers,
      body,
      text,
      json: <T>() => JSON.parse(text) as T,
      errors,
      aborted,
      request,
    };
  }

  /** Sends a GET request for `path`. */
  get(path: string, init?: ClientRequestInit): Promise<TestResponse> {
    return this.request(path, { ...init, method: "GET" });
  }

  /** Sends a HEAD request for `path`; the body is always empty. */
  head(path: string, init?: ClientRequestInit): Promise<TestResponse> {
    return this.request(path, { ...init, method: "HEAD" });
  }

  /** Sends a POST request to `path`. */
  post(path: string, init?: ClientRequestInit): Promise<TestResponse> {
    return this.request(path, { ...init, method: "POST" });
  }

  /** Sends a PUT request to `path`. */
  put(path: string, init?: ClientRequestInit): Promise<TestResponse> {
    return this.request(path, { ...init, method: "PUT" });
  }

  /** Sends a PATCH request to `path`. */
  patch(path: string, init?: ClientRequestInit): Promise<TestResponse> {
    return this.request(path, { ...init, method: "PATCH" });
  }

  /** Sends a DELETE request to `path`. */
  delete(path: string, init?: ClientRequestInit): Promise<TestResponse> {
    return this.request(path, { ...init, method: "DELETE" });
  }

  /** Sends an OPTIONS request to `path` (`"*"` is not a path here). */
  options(path: string, init?: ClientRequestInit): Promise<TestResponse> {
    return this.request(path, { ...init, method: "OPTIONS" });
  }

  async #toRequest(
    input: Request | string,
    init?: ClientRequestInit,
  ): Promise<Request> {
    if (init === undefined && input instanceof Request) return input;
    const { query, json, form, ...rest } = init ?? {};
    const bodies = [rest.body != null, json !== undefined, form !== undefined];
    if (bodies.filter(Boolean).length > 1) {
      throw new TypeError("give at most one of body, json and form");
    }
    if (form !== undefined) rest.body = new URLSearchParams(form);
    if (json !== undefined) {
      const headers = new Headers(
        rest.headers ?? (input instanceof Request ? input.headers : undefined),
      );
      if (!headers.has("content-type")) {
        headers.set("content-type", "application/json");
      }
      rest.headers = headers;
      rest.body = JSON.stringify(json);
    }
    let request = new Request(
      input instanceof Request ? input : new URL(input, this.#baseUrl),
      rest,
    );
    if (query !== undefined) {
      const url = new URL(request.url);
      const extra = new URLSearchParams(query).toString();
      url.search = url.search ? `${url.search.slice(1)}&${extra}` : extra;
      request = new Request(url, request);
    }
    // fetch sends a body of known size with its Content-Length, and apps
    // read CONTENT_LENGTH; an in-process Request has none until we add it.
    if (
      rest.body != null && !(rest.body instanceof ReadableStream) &&
      !request.headers.has("content-length")
    ) {
      const body = await request.bytes();
      const headers = new Headers(request.headers);
      headers.set("content-length", String(body.byteLength));
      request = new Request(request, { headers, body });
    }
    return request;
  }
}

/** A wsgi.errors that keeps each write in `lines`, and passes it on to `also`. */
function collecting(lines: string[], also?: ErrorStream): ErrorStream {
  return {
    write(text) {
      lines.push(text);
      also?.write(text);
    },
    writelines(texts) {
      for (const text of texts) this.write(text);
    },
    flush() {
      also?.flush();
    },
  };
}

/**
 * Reads a body to the end; if it breaks off, keeps what arrived and says
 * so instead of throwing.
 */
async function readAll(
  stream: ReadableStream<Uint8Array> | null,
): Promise<{ body: Uint8Array; aborted: boolean }> {
  const pieces: Uint8Array[] = [];
  let aborted = false;
  if (stream !== null) {
    const reader = stream.getReader();
    try {
      for (let step = await reader.read(); !step.done;) {
        pieces.push(step.value);
        step = await reader.read();
      }
    } catch {
      aborted = true;
    }
  }
  const body = pieces.length === 0 ? new Uint8Array(0) : concat(pieces);
  return { body, aborted };
}
