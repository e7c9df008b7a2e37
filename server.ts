/**
 * The server side of the contract over `Deno.serve`, read top to bottom as
 * the path of one request: build the environ, call the application, check
 * what it passes to `startResponse`, send the body, and handle whatever goes
 * wrong on the way. It plays the part wsgiref's `BaseHandler` plays in
 * Python.
 *
 * @example
 * ```ts
 * import { serve } from "@denowsgi/wsgi/server";
 *
 * const server = serve((_environ, startResponse) => {
 *   startResponse("200 OK", [["Content-Type", "text/plain"]]);
 *   return ["Hola mundo!\n"];
 * }, { port: 0, onListen() {} });
 * await server.shutdown();
 * ```
 *
 * @module
 */

import type {
  Application,
  Body,
  Chunk,
  Environ,
  ErrorStream,
  FetchHandler,
  GatewayOptions,
  Header,
  ServeOptions,
  StartResponse,
  Write,
} from "./mod.ts";
import {
  type LogSink,
  show,
  standardOutput,
  type Watcher,
  watchers,
} from "./log.ts";
import {
  ContractError,
  FIELD_VALUE,
  HOP_BY_HOP,
  NO_CONTENT,
  STATUS,
  TOKEN,
} from "./rules.ts";
import {
  ClientGone,
  concat,
  encoder,
  fileWrapper,
  Input,
  standardError,
  utf8Length,
} from "./streams.ts";

/**
 * Serves a WSGI application with `Deno.serve`. Takes everything
 * `Deno.serve` takes, plus the gateway's own options, and returns Deno's
 * `HttpServer` (`shutdown()`, `finished`, `await using`).
 *
 * @example
 * ```ts
 * import { serve } from "@denowsgi/wsgi";
 *
 * await using server = serve((_environ, startResponse) => {
 *   startResponse("200 OK", [["Content-Type", "text/plain"]]);
 *   return ["Hola mundo!\n"];
 * }, { hostname: "127.0.0.1", port: 0, onListen() {} });
 * ```
 */
export function serve(
  app: Application,
  options: ServeOptions = {},
): Deno.HttpServer {
  const {
    errors: _errors,
    multiprocess: _multiprocess,
    accessLog: _accessLog,
    trace: _trace,
    ...denoOptions
  } = options;
  const shared = context(options, true);
  const server = Deno.serve(
    {
      // The gateway catches the application's errors itself; what reaches
      // here is an aborted body, already logged, or a bug of ours.
      onError(error) {
        if (!(error instanceof ResponseAborted)) {
          shared.errors.write(`[wsgi] internal error\n${explain(error)}\n`);
        }
        return serverError();
      },
      ...denoOptions as Deno.ServeTcpOptions,
    },
    gateway(app, shared),
  );
  const addr = server.addr;
  if (addr.transport === "tcp") {
    // The name the server was asked to listen on (`localhost`), as wsgiref
    // reports it, rather than the address it resolved to.
    shared.listening.name = "hostname" in options && options.hostname
      ? options.hostname
      : addr.hostname;
    shared.listening.port = String(addr.port);
  }
  return server;
}

/**
 * Turns a WSGI application into a fetch handler, so the same application
 * runs under `Deno.serve`, under `deno serve` (`export default { fetch }`),
 * and in tests with no socket at all.
 *
 * @example A test with no socket
 * ```ts
 * import { toFetchHandler } from "@denowsgi/wsgi";
 *
 * const handler = toFetchHandler((environ, startResponse) => {
 *   startResponse("200 OK", [["Content-Type", "text/plain"]]);
 *   return [`Hola ${environ.PATH_INFO}\n`];
 * });
 * const response = await handler(new Request("http://localhost/mundo"));
 * console.log(await response.text()); // "Hola /mundo"
 * ```
 */
export function toFetchHandler(
  app: Application,
  options: GatewayOptions = {},
): FetchHandler {
  const handle = gateway(app, context(options, false));
  return async (request, info) => await handle(request, info);
}

/**
 * What {@linkcode makeServer} returns: wsgiref's `WSGIServer`, reduced to
 * what the lesson uses. It already listens; `serveForever()` waits until
 * `shutdown()` or Ctrl+C.
 *
 * @example
 * ```ts
 * import { makeServer } from "@denowsgi/wsgi";
 *
 * await using httpd = makeServer("127.0.0.1", 0, (_environ, startResponse) => {
 *   startResponse("200 OK", [["Content-Type", "text/plain"]]);
 *   return ["Hola mundo!\n"];
 * });
 * console.log(`Escuchando en ${httpd.serverName}:${httpd.serverPort}...`);
 * ```
 */
export interface WSGIServer extends AsyncDisposable {
  /** The address the server listens on (wsgiref's `server_name`). */
  readonly serverName: string;
  /** The port it listens on, useful when asked for port 0. */
  readonly serverPort: number;
  /** Serves until `shutdown()` or Ctrl+C, then resolves. */
  serveForever(): Promise<void>;
  /** Stops accepting connections and waits for requests in flight. */
  shutdown(): Promise<void>;
}

/**
 * `make_server(host, port, app)` from wsgiref, so the lesson's Python
 * translates one line for one line. It listens at once, like Python's bound
 * socket, and prints an access log line per request unless told otherwise.
 * {@linkcode serve} is the primary API; this is its mirror for the lesson.
 *
 * @example The lesson's main block
 * ```ts ignore
 * import { makeServer } from "@denowsgi/wsgi";
 * import { holaMundoApp } from "./holamundo.ts";
 *
 * const port = 8000;
 * const host = "localhost";
 * await using httpd = makeServer(host, port, holaMundoApp);
 * console.log(`Escuchando en ${host}:${port}... [Presiona Ctrl+C para terminar!]`);
 * await httpd.serveForever();
 * ```
 */
export function makeServer(
  host: string,
  port: number,
  app: Application,
  options: GatewayOptions = {},
): WSGIServer {
  const server = serve(app, {
    accessLog: true,
    ...options,
    hostname: host,
    port,
    onListen() {},
  });
  const addr = server.addr as Deno.NetAddr;
  const shutdown = () => server.shutdown();
  return {
    serverName: addr.hostname,
    serverPort: addr.port,
    async serveForever() {
      // The first Ctrl+C lets requests in flight finish; a second one does
      // not wait for a stream that may never end (gunicorn does the same).
      let stopping = false;
      const stop = () => {
        if (stopping) Deno.exit(130);
        stopping = true;
        shutdown();
      };
      for (const signal of STOP_SIGNALS) Deno.addSignalListener(signal, stop);
      try {
        await server.finished;
      } finally {
        for (const signal of STOP_SIGNALS) {
          Deno.removeSignalListener(signal, stop);
        }
      }
    },
    shutdown,
    [Symbol.asyncDispose]: shutdown,
  };
}

const STOP_SIGNALS: Deno.Signal[] = Deno.build.os === "windows"
  ? ["SIGINT"]
  : ["SIGINT", "SIGTERM"];

/**
 * wsgiref's `demo_app`: greets, then lists the request's environ as plain
 * text. The command line serves it when no module is named.
 *
 * @example
 * ```ts
 * import { demoApp, toFetchHandler } from "@denowsgi/wsgi";
 *
 * const response = await toFetchHandler(demoApp)(new Request("http://localhost/"));
 * console.log(await response.text()); // "Hola mundo!\n\nHTTP_HOST = ..."
 * ```
 */
export function demoApp(
  environ: Environ,
  startResponse: StartResponse,
): string[] {
  startResponse("200 OK", [["Content-Type", "text/plain; charset=utf-8"]]);
  const lines = Object.keys(environ).sort().map((key) =>
    `${key} = ${show(environ[key])}\n`
  );
  return ["Hola mundo!\n\n", ...lines];
}

/** Where the server listens, once it does; empty with no server. */
interface Listening {
  name?: string;
  port?: string;
}

/** What every request of one gateway shares. */
interface Context {
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

function context(options: GatewayOptions, onWire: boolean): Context {
  return {
    listening: {},
    onWire,
    errors: options.errors ?? standardError,
    multiprocess: options.multiprocess ?? false,
    watch: watchers(sink(options.accessLog), sink(options.trace)),
  };
}

function gateway(
  app: Application,
  context: Context,
): (
  request: Request,
  info?: Deno.ServeHandlerInfo,
) => Response | Promise<Response> {
  return (request, info) =>
    new Exchange(makeEnviron(request, info, context), context).run(app);
}

function sink(option: boolean | LogSink | undefined): LogSink | undefined {
  return option === true ? standardOutput : option || undefined;
}

// ---------------------------------------------------------------------------
// 1. The environ
// ---------------------------------------------------------------------------

/**
 * Builds the environ from the request. `request.url` is
 * `scheme://authority/target`: the target is cut out of it as a string, so
 * the query and any bad escapes in the path reach the application exactly
 * as they came.
 */
function makeEnviron(
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

// ---------------------------------------------------------------------------
// 2. One exchange: the application, startResponse, the body
// ---------------------------------------------------------------------------

/**
 * What a body stream fails with once the response has started. Deno prints
 * it, so it says where the full story is, in one line and with no stack.
 */
class ResponseAborted extends Error {
  constructor() {
    super(
      "[wsgi] response aborted after it had started; the reason is in wsgi.errors",
    );
    this.stack = this.message;
  }
}

function serverError(): Response {
  return new Response(SERVER_ERROR_BODY, {
    status: 500,
    statusText: "Internal Server Error",
    headers: { "content-type": "text/plain; charset=utf-8" },
  });
}

function emptyStream(): ReadableStream<Uint8Array> {
  return new ReadableStream({ start: (controller) => controller.close() });
}

const SERVER_ERROR_BODY =
  "A server error occurred. Please contact the administrator.\n";

type Source = Iterator<Chunk> | AsyncIterator<Chunk>;

/**
 * The state of one request/response exchange, from the application call to
 * the last byte of the body.
 */
class Exchange {
  readonly environ: Environ;
  readonly context: Context;
  /** The trace and access log, when either is on. */
  readonly watch?: Watcher;
  /** The status and headers last given to startResponse, checked. */
  status?: [code: number, reason: string];
  headers?: Checked;
  /** True once the status and headers have gone into a Response. */
  committed = false;
  /** The first contract rule broken, kept even if the app swallowed it. */
  broken?: ContractError;
  /** Chunks waiting to go out: write() data, then the body's. */
  pending: Uint8Array[] = [];
  body?: Body;
  source?: Source;
  /** Empty chunks in a row: a body's heartbeat, or a runaway loop. */
  empties = 0;
  finished = false;

  constructor(environ: Environ, context: Context) {
    this.environ = environ;
    this.context = context;
    this.watch = context.watch?.(environ);
  }

  // -- startResponse and write, as the application sees them ---------------

  startResponse = (status: string, headers: Header[], excInfo?: unknown) => {
    this.watch?.startResponse(status, headers, excInfo);
    if (this.status !== undefined) {
      // null, like Python's None, is no excInfo at all.
      if (excInfo == null) {
        this.break(
          "startResponse() was called a second time without excInfo; pass the caught error as the third argument to replace the status",
        );
      }
      if (this.committed) throw excInfo;
    }
    const parsed = parseStatus(status);
    if (typeof parsed === "string") this.break(parsed);
    const checked = checkHeaders(headers);
    if (typeof checked === "string") this.break(checked);
    this.status = parsed;
    this.headers = checked;
    return this.write;
  };

  write: Write = (chunk) => {
    if (this.status === undefined) {
      this.break("write() was called before startResponse()");
    }
    const bytes = this.toBytes(chunk);
    this.watch?.write(bytes.byteLength);
    if (this.finished) {
      this.log(
        `write() came after the body had ended: ${bytes.byteLength} bytes dropped`,
      );
    } else if (bytes.byteLength > 0) this.pending.push(bytes);
  };

  /** Records a broken rule and throws it into the application. */
  break(rule: string): never {
    const error = new ContractError(rule);
    this.broken ??= error;
    throw error;
  }

  toBytes(chunk: unknown): Uint8Array {
    if (typeof chunk === "string") return encoder.encode(chunk);
    if (chunk instanceof Uint8Array) return chunk;
    return this.break(
      `body chunks must be strings or Uint8Arrays, got ${describe(chunk)}`,
    );
  }

  // -- the application call --------------------------------------------------

  /**
   * Calls the application. The result is a Promise only when something on
   * the way is async: a sync app with an array body costs no promise at all.
   */
  run(app: Application): Response | Promise<Response> {
    try {
      const body = app(this.environ, this.startResponse);
      return body instanceof Promise
        ? body.then((body) => this.respond(body), (error) => this.fail(error))
        : this.respond(body);
    } catch (error) {
      return this.fail(error);
    }
  }

  respond(body: unknown): Response | Promise<Response> {
    try {
      if (!isBody(body)) {
        this.break(
          `the application must return an iterable of chunks (an array, a generator…), got ${
            describe(body)
          }`,
        );
      }
      this.body = body;
      const response = Array.isArray(body) || typeof body === "string"
        ? this.respondAtOnce(body)
        : this.respondStreaming(body);
      return response instanceof Promise
        ? response.catch((error) => this.fail(error))
        : response;
    } catch (error) {
      return this.fail(error);
    }
  }

  /**
   * An array (or a lone string): every chunk is known, so the body goes out
   * in one piece. Strings stay a string, which Deno encodes natively.
   */
  respondAtOnce(body: Chunk[] | string): Response {
    const chunks = typeof body === "string" ? [body] : body;
    let text: string | undefined = this.pending.length === 0 ? "" : undefined;
    for (const chunk of chunks) {
      if (text !== undefined && typeof chunk === "string") {
        text += chunk;
        this.watch?.chunk(utf8Length(chunk));
        continue;
      }
      if (text) this.pending.push(encoder.encode(text));
      text = undefined;
      const bytes = this.toBytes(chunk);
      this.watch?.chunk(bytes.byteLength);
      if (bytes.byteLength > 0) this.pending.push(bytes);
    }
    // The response does not wait for close(): wsgiref too calls it after.
    this.finish(true);
    const content = text ?? concat(this.pending);
    const init = this.commit(content.length > 0);
    const declared = this.headers!.length;
    const onWire = this.context.onWire;
    // Measuring a long string costs: only when something needs the length.
    const length = onWire && declared === undefined && !this.watch
      ? -1
      : typeof content === "string"
      ? utf8Length(content)
      : content.byteLength;
    if (
      declared !== undefined && declared !== length &&
      !this.headersOnly(init.status)
    ) {
      this.break(
        `the Content-Length header says ${declared} but the body has ${length} bytes`,
      );
    }
    // RFC 9110: a 204 or 304 declares no length of its own.
    if (!onWire && declared === undefined && !NO_CONTENT.has(init.status)) {
      init.headers = [...init.headers, ["Content-Length", String(length)]];
    }
    const head = this.environ.REQUEST_METHOD === "HEAD";
    this.watch?.end(init.status, head ? 0 : length);
    if (content.length === 0 || (head && !onWire)) {
      return new Response(null, init);
    }
    // Deno labels a string body text/plain, and WSGI has no default type.
    const bytes = typeof content === "string" && !this.headers!.typed
      ? encoder.encode(content)
      : content;
    // A SharedArrayBuffer view is as good a body as any other.
    return new Response(bytes as string | BufferSource, init);
  }

  /**
   * Any other iterable streams: nothing is committed until the first
   * non-empty chunk, then chunks are pulled as the client reads them, one
   * chunk ahead.
   */
  async respondStreaming(body: Body): Promise<Response> {
    this.source = Symbol.asyncIterator in body
      ? body[Symbol.asyncIterator]()
      : body[Symbol.iterator]();
    const first = this.next();
    const empty =
      !(first instanceof Promise ? await this.unlessGone(first) : first);
    // A first chunk past the declared length: still time for a 500.
    const declared = this.headers?.length ?? Infinity;
    if (!empty && this.pending[0].byteLength > declared) {
      this.break(`the body is longer than its Content-Length, ${declared}`);
    }
    const init = this.commit(!empty);
    if (empty || this.environ.REQUEST_METHOD === "HEAD") {
      this.finish(false);
      this.watch?.end(init.status, 0);
      // A null body would make Deno declare `Content-Length: 0`, which HEAD
      // of a non-empty streamed body must not; an empty stream declares none.
      if (!empty) return new Response(emptyStream(), init);
      if (!this.context.onWire && declared === Infinity) {
        init.headers = [...init.headers, ["Content-Length", "0"]];
      }
      return new Response(null, init);
    }
    // Bytes handed to the stream, and bytes its reader has taken: the
    // stream holds one chunk ahead, and a pull means that one was taken.
    let handed = 0;
    let taken = 0;
    // Each pull hands over one chunk. It stays synchronous while the body
    // is: a promise per chunk would double the cost of small chunks.
    const deliver = (
      controller: ReadableStreamDefaultController<Uint8Array>,
      more: boolean,
    ) => {
      // The client may have gone while an async body was between chunks.
      if (cancelled) return;
      if (more) {
        const chunk = this.pending.shift()!;
        handed += chunk.byteLength;
        // Deno would silently cut a body longer than its Content-Length.
        if (handed > declared) {
          this.break(`the body is longer than its Content-Length, ${declared}`);
        }
        this.watch?.chunk(chunk.byteLength);
        controller.enqueue(chunk);
      } else {
        if (handed < declared && declared !== Infinity) {
          this.break(
            `the body ended after ${handed} bytes, short of its Content-Length, ${declared}`,
          );
        }
        controller.close();
        this.watch?.end(init.status, taken);
      }
    };
    const failed = (
      controller: ReadableStreamDefaultController<Uint8Array>,
      error: unknown,
    ) => {
      if (cancelled) return;
      this.abort(controller, error);
      this.watch?.end(init.status, taken);
    };
    let cancelled = false;
    const stream = new ReadableStream<Uint8Array>({
      pull: (controller) => {
        taken = handed;
        try {
          const more = this.next();
          if (!(more instanceof Promise)) return deliver(controller, more);
          return more.then((more) => deliver(controller, more))
            .catch((error) => failed(controller, error));
        } catch (error) {
          return failed(controller, error);
        }
      },
      cancel: () => {
        cancelled = true;
        this.log("the client went away before the whole body was sent");
        this.finish(false);
        this.watch?.end(init.status, taken);
      },
      // One chunk ahead of the reader, as any ReadableStream by default: a
      // pending read then finds its chunk ready (measured: a third cheaper
      // per chunk than pulling on demand), and memory stays one chunk.
    }, { highWaterMark: 1 });
    return new Response(stream, init);
  }

  /**
   * Waits for an async body's first chunk, unless the client leaves first:
   * with no Response yet, Deno has no stream to cancel, and an SSE body may
   * wait for its first event for a long time. Only a body still silent after
   * a turn of the event loop is watched: Deno prints a notice once `signal`
   * is in use, and most bodies answer at once.
   */
  async unlessGone(first: Promise<boolean>): Promise<boolean> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const later = new Promise<"later">((resolve) => {
      timer = setTimeout(() => resolve("later"), 0);
    });
    const quick = await Promise.race([first, later]).finally(() =>
      clearTimeout(timer)
    );
    if (quick !== "later") return quick;
    const signal = this.environ["deno.request"].signal;
    return new Promise((resolve, reject) => {
      const gone = () => {
        this.finish(false);
        reject(
          new ClientGone("the client went away before the response started"),
        );
      };
      signal.addEventListener("abort", gone, { once: true });
      first.then(resolve, reject).finally(() =>
        signal.removeEventListener("abort", gone)
      );
    });
  }

  /**
   * Makes sure a chunk is pending, pulling the body as needed; false once
   * the body is over. A Promise only when the body is async.
   */
  next(): boolean | Promise<boolean> {
    while (this.pending.length === 0) {
      // Let other requests run between long runs of empty chunks.
      if (this.empties >= 1024) {
        this.empties = 0;
        return new Promise((resolve) => setTimeout(resolve)).then(() =>
          this.next()
        );
      }
      const step = this.source!.next();
      if (step instanceof Promise) {
        return step.then((step) =>
          this.take(step) ? this.next() : this.ended()
        );
      }
      if (!this.take(step)) return this.ended();
    }
    if (this.broken) throw this.broken;
    return true;
  }

  /** Takes one step of the body; false when the body is over. */
  take(step: IteratorResult<Chunk>): boolean {
    if (this.broken) throw this.broken;
    if (step.done) return false;
    const bytes = this.toBytes(step.value);
    if (bytes.byteLength > 0) {
      this.pending.push(bytes);
      this.empties = 0;
    } else this.empties++;
    return true;
  }

  /** The body is over: close it (without waiting) and say so. */
  ended(): false {
    this.finish(true);
    return false;
  }

  /**
   * Fixes the response: from here on it cannot change. The headers are the
   * app's own list, so their case and order reach the wire as written.
   */
  commit(
    hasContent: boolean,
  ): { status: number; statusText: string; headers: Header[] } {
    if (this.broken) throw this.broken;
    if (this.status === undefined) {
      this.break(
        "startResponse() was never called; the application must call it before returning its body",
      );
    }
    const [status, statusText] = this.status;
    if (hasContent && NO_CONTENT.has(status)) {
      this.break(
        `a ${status} response has no body, but the application sent one`,
      );
    }
    this.committed = true;
    return { status, statusText, headers: this.headers!.list };
  }

  /** HEAD and 304 may declare the length of a body they do not carry. */
  headersOnly(status: number): boolean {
    return this.environ.REQUEST_METHOD === "HEAD" || status === 304;
  }

  /**
   * Closes the body exactly once, whichever way the response ended. Nobody
   * waits for it but the tests: a slow close() delays no response.
   */
  finish(completed: boolean): Promise<void> | undefined {
    if (this.finished) return;
    this.finished = true;
    const source = completed ? undefined : this.source;
    if (source?.return || this.body?.close) return this.close(source);
  }

  async close(unfinished: Source | undefined): Promise<void> {
    // Both at once: an async generator returns only after its pending step,
    // and the body's own close() must not wait for that.
    await Promise.all([
      unfinished?.return && this.call("return()", () => unfinished.return!()),
      this.body?.close && this.call("close()", () => this.body!.close!()),
    ]);
  }

  async call(name: string, method: () => unknown): Promise<void> {
    this.watch?.close(name);
    try {
      await method();
    } catch (error) {
      this.log(`the body's ${name} raised an error`, error);
    }
  }

  // -- when things go wrong -------------------------------------------------

  /**
   * After the first chunk it is too late for a 500: abort the transfer, so
   * the client sees a broken response rather than a truncated one that looks
   * complete.
   */
  abort(
    controller: ReadableStreamDefaultController<Uint8Array>,
    error: unknown,
  ): void {
    this.log("the response was aborted after it had started", error);
    controller.error(new ResponseAborted());
    this.finish(false);
  }

  /** Before the first chunk went out: close the body, answer 500. */
  fail(error: unknown): Response {
    this.finish(false);
    if (error instanceof ContractError || error instanceof ClientGone) {
      this.log(error.message);
    } else this.log("the application raised an error", error);
    this.watch?.end(500, SERVER_ERROR_BODY.length);
    return serverError();
  }

  /** One line naming what happened, then the stack if there is one. */
  log(what: string, error?: unknown): void {
    const { REQUEST_METHOD, REQUEST_URI } = this.environ;
    let line = `[wsgi] ${REQUEST_METHOD} ${REQUEST_URI}: ${what}\n`;
    if (error !== undefined) line += `${explain(error)}\n`;
    try {
      this.context.errors.write(line);
    } catch {
      // A broken error stream must not take the response down with it.
    }
  }
}

const statuses = new Map<string, [number, string]>();

/**
 * `"200 OK"` → `[200, "OK"]`, or the rule it breaks. Remembered: an app
 * says the same few statuses over and over.
 */
function parseStatus(status: unknown): [number, string] | string {
  if (typeof status !== "string") {
    return `the status must be a string such as "200 OK", got ${
      describe(status)
    }`;
  }
  const known = statuses.get(status);
  if (known !== undefined) return known;
  const match = STATUS.exec(status);
  if (match === null) {
    return `the status ${
      JSON.stringify(status)
    } must be three digits, a space and a reason phrase without control characters, such as "200 OK"`;
  }
  const code = Number(match[1]);
  if (code < 200 || code > 599) {
    return `the status code ${code} cannot be sent by an application: use 200 to 599`;
  }
  const parsed: [number, string] = [code, match[2]];
  if (statuses.size < 256) statuses.set(status, parsed);
  return parsed;
}

/** Header names already found to be tokens and not hop-by-hop. */
const goodNames = new Set<string>();

/** The app's headers once checked: a copy, so later changes cannot sneak in. */
interface Checked {
  list: Header[];
  /** The Content-Length the app declared, if it did. */
  length?: number;
  /** Whether the app set a Content-Type. */
  typed: boolean;
}

function checkHeaders(headers: unknown): Checked | string {
  if (!Array.isArray(headers)) {
    return `the headers must be an array of [name, value] pairs, got ${
      describe(headers)
    }`;
  }
  const checked: Checked = { list: [], typed: false };
  for (const header of headers) {
    if (
      !Array.isArray(header) || header.length !== 2 ||
      typeof header[0] !== "string" || typeof header[1] !== "string"
    ) {
      return `each header must be a [name, value] pair of strings, got ${
        describe(header)
      }`;
    }
    const [name, value] = header;
    if (!goodNames.has(name)) {
      if (!TOKEN.test(name)) {
        return `the header name ${JSON.stringify(name)} is not an HTTP token`;
      }
      if (HOP_BY_HOP.has(name.toLowerCase())) {
        return `the hop-by-hop header ${name} belongs to the server, not the application (PEP 3333)`;
      }
      if (goodNames.size < 512) goodNames.add(name);
    }
    if (!FIELD_VALUE.test(value)) {
      return /[\r\n\0]/.test(value)
        ? `the value of header ${name} contains CR, LF or NUL`
        : /[\u0100-\uffff]/.test(value)
        ? `the value of header ${name} must be latin-1 text (PEP 3333); encode other characters, e.g. RFC 8187`
        : `the value of header ${name} contains a control character`;
    }
    if (name.length === 14 && name.toLowerCase() === "content-length") {
      if (!/^\d+$/.test(value)) {
        return `the Content-Length ${
          JSON.stringify(value)
        } is not a whole number of bytes`;
      }
      checked.length = Number(value);
    } else if (name.length === 12 && name.toLowerCase() === "content-type") {
      checked.typed = true;
    }
    checked.list.push([name, value]);
  }
  return checked;
}

function isBody(value: unknown): value is Body {
  if (typeof value === "string") return true;
  if (typeof value !== "object" || value === null) return false;
  return !(value instanceof Uint8Array) &&
    (Symbol.iterator in value || Symbol.asyncIterator in value);
}

/** The rule a ContractError names, an Error's stack, or the value thrown. */
function explain(error: unknown): string {
  if (error instanceof ContractError) return `  rule: ${error.message}`;
  if (error instanceof Error) return String(error.stack);
  return `  thrown: ${describe(error)}`;
}

/** Names a value in an error message: `"text"`, `undefined`, `a Promise`… */
function describe(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "function") return "a function (call it?)";
  if (typeof value !== "object" || value === null) return String(value);
  return `a ${value.constructor?.name ?? "null-prototype object"}`;
}

// ---------------------------------------------------------------------------
// 3. The command line, like gunicorn and `python -m wsgiref.simple_server`
// ---------------------------------------------------------------------------

const USAGE = `Serves a WSGI application with Deno.

Usage:
  deno run --allow-net --allow-read server.ts [options] [module[:name]]

  module[:name]        a file that exports the application: the export called
                       name, or the default export; with no module, a demo app
                       that shows the request's environ
  -b, --bind HOST:PORT where to listen (default localhost:8000)
  --host HOST          the host alone
  --port PORT          the port alone
  --access-log         one Common Log Format line per request (the default)
  --no-access-log      no access log
  --trace              print every step of every request's flow
  -h, --help           this text`;

/** A mistake on the command line: said in one line, never as a stack. */
class UsageError extends Error {}

interface Command {
  host: string;
  port: number;
  accessLog: boolean;
  trace: boolean;
  help: boolean;
  module?: string;
}

function parseCommand(args: string[]): Command {
  const command: Command = {
    host: "localhost",
    port: 8000,
    accessLog: true,
    trace: false,
    help: false,
  };
  for (let i = 0; i < args.length; i++) {
    const [flag, inline] = args[i].startsWith("--")
      ? args[i].split(/=(.*)/s, 2)
      : [args[i]];
    const value = () => {
      const given = inline ?? args[++i];
      if (given === undefined) throw new UsageError(`${flag} needs a value`);
      return given;
    };
    switch (flag) {
      case "-h":
      case "--help":
        command.help = true;
        break;
      case "-b":
      case "--bind": {
        const bind = value();
        const colon = bind.lastIndexOf(":");
        if (colon === -1) {
          throw new UsageError(`--bind wants HOST:PORT, got ${bind}`);
        }
        command.host = bind.slice(0, colon).replace(/^\[(.*)\]$/, "$1");
        command.port = parsePort(bind.slice(colon + 1));
        break;
      }
      case "--host":
        command.host = value();
        break;
      case "--port":
        command.port = parsePort(value());
        break;
      case "--access-log":
        command.accessLog = true;
        break;
      case "--no-access-log":
        command.accessLog = false;
        break;
      case "--trace":
        command.trace = true;
        break;
      default:
        if (flag.startsWith("-")) {
          throw new UsageError(`unknown option ${flag}`);
        }
        if (command.module !== undefined) {
          throw new UsageError(
            `one module at a time, got ${command.module} and ${flag}`,
          );
        }
        command.module = flag;
    }
  }
  if (command.host === "") throw new UsageError("the host must not be empty");
  return command;
}

function parsePort(text: string): number {
  const port = Number(text);
  if (!/^\d+$/.test(text) || port > 65535) {
    throw new UsageError(
      `the port must be a number from 0 to 65535, got ${text}`,
    );
  }
  return port;
}

/** `path/app.ts:name` → the application it exports. */
async function loadApplication(spec: string): Promise<Application> {
  const [, path, name] = /^(.*?)(?::([A-Za-z_$][\w$]*))?$/.exec(spec)!;
  let module: Record<string, unknown>;
  try {
    module = await import(moduleUrl(path));
  } catch (error) {
    // A module that cannot be found is a usage error; one that throws while
    // loading is the application's bug, and its stack is worth reading.
    const reason = error instanceof Error ? error.message : String(error);
    if (
      !(error instanceof Deno.errors.NotCapable) && !UNLOADABLE.test(reason)
    ) {
      throw error;
    }
    throw new UsageError(`cannot import ${path}: ${reason.split("\n")[0]}`);
  }
  const app = module[name ?? "default"];
  if (typeof app !== "function") {
    const exports = Object.keys(module).join(", ") || "nothing";
    throw new UsageError(
      `${path} has no ${
        name ? `export named ${name}` : "default export"
      } that is a function (it exports: ${exports})`,
    );
  }
  return app as Application;
}

const UNLOADABLE =
  /^Module not found|^Relative import path|^Unsupported scheme|^Import .* not a dependency/;

/** A file path, relative to the working folder, or a URL, as a module URL. */
function moduleUrl(path: string): string {
  if (/^[a-z][a-z\d+.-]+:/i.test(path)) return path;
  const url = new URL("file:///");
  // The pathname setter escapes `#`, `?` and spaces, but keeps `%` as is.
  url.pathname = (path.startsWith("/") ? path : `${Deno.cwd()}/${path}`)
    .replaceAll("%", "%25");
  return url.href;
}

async function main(args: string[]): Promise<number> {
  try {
    const command = parseCommand(args);
    if (command.help) {
      console.log(USAGE);
      return 0;
    }
    const app = command.module === undefined
      ? demoApp
      : await loadApplication(command.module);
    const httpd = listen(command, app);
    const what = command.module ?? "the demo app";
    const host = command.host.includes(":")
      ? `[${command.host}]`
      : command.host;
    const where = `http://${host}:${httpd.serverPort}/`;
    // Ctrl+C is handled from here on: only then say the server is ready.
    const serving = httpd.serveForever();
    console.log(`Serving ${what} on ${where} (Ctrl+C to stop)`);
    await serving;
    console.log("Stopped.");
    return 0;
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`server.ts: error: ${error.message.split("\n")[0]}`);
    return 2;
  }
}

function listen(command: Command, app: Application): WSGIServer {
  try {
    return makeServer(command.host, command.port, app, {
      accessLog: command.accessLog,
      trace: command.trace,
    });
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new UsageError(
      `cannot listen on ${command.host}:${command.port}: ${reason}`,
    );
  }
}

// No top-level await: the application's module imports this one again
// (through mod.ts), and would wait forever for it to finish evaluating.
if (import.meta.main) main(Deno.args).then(Deno.exit);
