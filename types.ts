/**
 * The contract: PEP 3333 written as TypeScript types, as wsgiref keeps it in
 * `types.py`. It imports nothing; every other module of the package depends
 * on it, and it depends on none of them.
 *
 * @example An application, typed
 * ```ts
 * import type { Application } from "@denowsgi/wsgi";
 *
 * export const app: Application = (_environ, startResponse) => {
 *   startResponse("200 OK", [["Content-Type", "text/plain; charset=utf-8"]]);
 *   return ["Hola mundo!\n"];
 * };
 * ```
 *
 * @module
 */

/**
 * One piece of a response body. Strings go out as UTF-8; bytes go out as
 * they are.
 *
 * @example
 * ```ts
 * import type { Chunk } from "@denowsgi/wsgi";
 *
 * const chunks: Chunk[] = ["<h1>Hola</h1>", new Uint8Array([0x0a])];
 * ```
 */
export type Chunk = string | Uint8Array;

/**
 * A response header as PEP 3333 has it: a `[name, value]` pair.
 *
 * @example
 * ```ts
 * import type { Header } from "@denowsgi/wsgi";
 *
 * const header: Header = ["Content-Type", "text/html; charset=utf-8"];
 * ```
 */
export type Header = [name: string, value: string];

/**
 * `wsgi.input`: the request body, read the way Python reads a file, but
 * asynchronously. Reads never go past the end of the body (CONTENT_LENGTH, or
 * the end of a chunked upload), and return an empty array at the end.
 *
 * @example Echo the body, line by line
 * ```ts
 * import type { Application } from "@denowsgi/wsgi";
 *
 * const echo: Application = async function* (environ, startResponse) {
 *   startResponse("200 OK", [["Content-Type", "text/plain"]]);
 *   for await (const line of environ["wsgi.input"]) yield line;
 * };
 * ```
 */
export interface InputStream extends AsyncIterable<Uint8Array> {
  /**
   * Reads up to `size` bytes, fewer only at the end of the body; with no
   * size (or a negative one), reads everything that is left.
   */
  read(size?: number): Promise<Uint8Array>;
  /**
   * Reads one line, up to and including `\n`; with a size, at most that
   * many bytes.
   */
  readline(size?: number): Promise<Uint8Array>;
  /**
   * Reads the remaining lines; with a hint, stops once that many bytes have
   * been read.
   */
  readlines(hint?: number): Promise<Uint8Array[]>;
}

/**
 * `wsgi.errors`: where the application and the gateway write their errors.
 * By default it is the process's standard error.
 *
 * @example
 * ```ts
 * import type { Application } from "@denowsgi/wsgi";
 *
 * const app: Application = (environ, startResponse) => {
 *   environ["wsgi.errors"].write("a log line\n");
 *   startResponse("204 No Content", []);
 *   return [];
 * };
 * ```
 */
export interface ErrorStream {
  /** Writes a string as it is: add the `\n` yourself. */
  write(text: string): void;
  /** Writes each string in turn, adding nothing between them. */
  writelines(lines: Iterable<string>): void;
  /** Pushes out anything buffered. */
  flush(): void;
}

/**
 * The request as PEP 3333 describes it: CGI variables, `HTTP_*` headers, the
 * `wsgi.*` keys, and server-specific keys under the `deno.` prefix. It
 * behaves as a plain object the application may read and change (middleware
 * often does); the gateway fills the costly keys (the target, the client's
 * address, the headers) the first time any of them is touched.
 *
 * @example Reading the request
 * ```ts
 * import type { Application } from "@denowsgi/wsgi";
 *
 * const app: Application = (environ, startResponse) => {
 *   const who = environ.HTTP_USER_AGENT ?? "alguien";
 *   startResponse("200 OK", [["Content-Type", "text/plain; charset=utf-8"]]);
 *   return [`${environ.REQUEST_METHOD} ${environ.PATH_INFO} de ${who}\n`];
 * };
 * ```
 */
export interface Environ {
  /** `GET`, `POST`, … as the client sent it. */
  REQUEST_METHOD: string;
  /** The part of the path that led to this application; `""` at the root. */
  SCRIPT_NAME: string;
  /** The rest of the path, percent-decoded as UTF-8. */
  PATH_INFO: string;
  /** The query without the `?`, exactly as sent (not decoded); may be `""`. */
  QUERY_STRING: string;
  /** The request's Content-Type; absent when the request has none. */
  CONTENT_TYPE?: string;
  /** The request's Content-Length; absent when the request has none. */
  CONTENT_LENGTH?: string;
  /** The host name or address the server listens on. */
  SERVER_NAME: string;
  /** The port the server listens on, as a string. */
  SERVER_PORT: string;
  /** Always `HTTP/1.1`: `Deno.serve` does not expose the version spoken. */
  SERVER_PROTOCOL: string;
  /** The client's address, when the connection is known. */
  REMOTE_ADDR?: string;
  /** The client's port, as a string, when the connection is known. */
  REMOTE_PORT?: string;
  /** The request target as received: raw path and query. */
  REQUEST_URI: string;
  /** The same as `REQUEST_URI` (gunicorn's name). */
  RAW_URI: string;
  /** Every other request header, as `HTTP_UPPER_NAME`. */
  [header: `HTTP_${string}`]: string | undefined;
  /** The WSGI version, `[1, 0]`. */
  "wsgi.version": [1, 0];
  /** `http` or `https`. */
  "wsgi.url_scheme": string;
  /** The request body. */
  "wsgi.input": InputStream;
  /** Where errors go. */
  "wsgi.errors": ErrorStream;
  /** `false`: one JavaScript thread runs every request. */
  "wsgi.multithread": boolean;
  /** Whether other processes serve the same application. */
  "wsgi.multiprocess": boolean;
  /** `false`: the application lives for many requests. */
  "wsgi.run_once": boolean;
  /** `true`: reading `wsgi.input` to the end is safe, even if chunked. */
  "wsgi.input_terminated": boolean;
  /**
   * Turns an open file into a body that streams it and closes it. Optional
   * in PEP 3333; this gateway always provides it.
   */
  "wsgi.file_wrapper"?: FileWrapper;
  /** The original `Request`, for what the environ does not carry. */
  "deno.request": Request;
  /** The connection info `Deno.serve` gave, when there is a connection. */
  "deno.info"?: Deno.ServeHandlerInfo;
  /**
   * Fires when the client goes away or the gateway's `appTimeout` passes,
   * so a cooperative application can stop its work (pass it to `fetch`).
   * The client is watched only while an answer is pending after a turn of
   * the event loop: Deno prints a notice the first time its request signal
   * is touched.
   */
  "deno.signal"?: AbortSignal;
  /**
   * What `proxyFix` replaced (the gateway's own `REMOTE_ADDR`, scheme, host
   * …) once it trusted a proxy's headers. When it is there, the access log
   * shows the client `REMOTE_ADDR` names, as the application sees it.
   */
  "deno.proxy_fix.orig"?: Record<string, unknown>;
  /** Anything middleware or the application adds. */
  [key: string]: unknown;
}

/**
 * The `write` callable that {@linkcode StartResponse} returns: PEP 3333's
 * escape hatch for applications that push output instead of returning it.
 * What is written goes out before the body the application returns.
 *
 * @example
 * ```ts
 * import type { Application } from "@denowsgi/wsgi";
 *
 * const legacy: Application = (_environ, startResponse) => {
 *   const write = startResponse("200 OK", [["Content-Type", "text/plain"]]);
 *   write("escrito con write()\n");
 *   return [];
 * };
 * ```
 */
export type Write = (chunk: Chunk) => void;

/**
 * `start_response(status, headers, exc_info=None)`: the application calls it
 * once with a status line such as `"200 OK"` and its headers. Before the
 * first byte of the body is sent, it may call it again with the error it
 * caught as `excInfo` to replace both; after that, such a call rethrows
 * `excInfo`.
 *
 * @example Switching to an error page before anything was sent
 * ```ts
 * import type { Application } from "@denowsgi/wsgi";
 *
 * const app: Application = (_environ, startResponse) => {
 *   startResponse("200 OK", [["Content-Type", "text/html"]]);
 *   try {
 *     throw new Error("la base de datos no responde");
 *   } catch (error) {
 *     startResponse("503 Service Unavailable", [["Content-Type", "text/plain"]], error);
 *     return ["Vuelve en un rato\n"];
 *   }
 * };
 * ```
 */
export type StartResponse = (
  status: string,
  headers: Header[],
  excInfo?: unknown,
) => Write;

/**
 * What an application returns: chunks, given all at once (an array), one by
 * one (a generator, sync or async), or as a Promise of either. If it has a
 * `close()` method, the gateway calls it exactly once when the response is
 * over, however it ends.
 *
 * @example A body that releases a resource
 * ```ts
 * import type { Body } from "@denowsgi/wsgi";
 *
 * const body: Body = Object.assign(["uno\n", "dos\n"], {
 *   close: () => console.log("listo"),
 * });
 * ```
 */
export type Body = (Iterable<Chunk> | AsyncIterable<Chunk>) & {
  close?: () => void | Promise<void>;
};

/**
 * `wsgi.file_wrapper`: turns an open file (a `Deno.FsFile`, or anything with
 * a `readable` stream and a `close()`) into a body that streams it as the
 * client reads and closes it when the response ends, however it ends.
 * `blockSize` is accepted for PEP 3333's sake; Deno chooses its own reads.
 *
 * @example Serving a file
 * ```ts
 * import type { Application } from "@denowsgi/wsgi";
 *
 * const app: Application = async (environ, startResponse) => {
 *   const file = await Deno.open("README.md");
 *   startResponse("200 OK", [["Content-Type", "text/markdown"]]);
 *   // PEP 3333's idiom: use the server's wrapper when there is one.
 *   const wrap = environ["wsgi.file_wrapper"];
 *   return wrap ? wrap(file) : file.readable;
 * };
 * ```
 */
export type FileWrapper = (
  file: { readable: ReadableStream<Uint8Array>; close?: () => void },
  blockSize?: number,
) => Body;

/**
 * A WSGI application: called once per request with the environ and
 * `startResponse`; returns the body. It may be sync or async, and may be a
 * generator function.
 *
 * @example
 * ```ts
 * import type { Application } from "@denowsgi/wsgi";
 *
 * export const app: Application = (_environ, startResponse) => {
 *   startResponse("200 OK", [["Content-Type", "text/plain"]]);
 *   return ["Hola mundo!\n"];
 * };
 * ```
 */
export type Application = (
  environ: Environ,
  startResponse: StartResponse,
) => Body | Promise<Body>;

/**
 * Where log lines can go in batches: anything with `Deno.FsFile`'s
 * `write`, which may take part of what it is given.
 *
 * @example An access log file
 * ```ts
 * import type { LogWriter } from "@denowsgi/wsgi";
 *
 * const file: LogWriter = await Deno.open("/tmp/access.log", {
 *   append: true,
 *   create: true,
 * });
 * ```
 */
export interface LogWriter {
  /** Writes some of `bytes`; resolves to how many. */
  write(bytes: Uint8Array): Promise<number>;
}

/**
 * The gateway's own options, shared by {@linkcode serve} and
 * {@linkcode toFetchHandler}.
 *
 * @example Collecting errors in memory
 * ```ts
 * import { type GatewayOptions, toFetchHandler } from "@denowsgi/wsgi";
 *
 * const lines: string[] = [];
 * const options: GatewayOptions = {
 *   errors: { write: (s) => lines.push(s), writelines: (l) => lines.push(...l), flush() {} },
 * };
 * const handler = toFetchHandler(() => [], options);
 * ```
 */
export interface GatewayOptions {
  /** `wsgi.errors` for every request; standard error by default. */
  errors?: ErrorStream;
  /** `wsgi.multiprocess`: set it when several processes serve the app. */
  multiprocess?: boolean;
  /**
   * One Common Log Format line per response, as wsgiref and gunicorn print:
   * `true` for standard output, a function that takes each line, or a
   * {@linkcode LogWriter} (an open file, a pipe) that takes them in batches,
   * as standard output does, never making a request wait (but with `trace:
   * true`: see there).
   */
  accessLog?: boolean | ((line: string) => void) | LogWriter;
  /**
   * Prints the flow of every request step by step (the environ, the
   * startResponse call, each chunk, close, timings): `true` for standard
   * output, or a function that takes each line. Costs nothing when off.
   * With `true`, each line (and each access-log line on standard output)
   * is written as it happens, in order with what the application prints
   * itself; as with standard error, a stalled terminal then stalls the
   * server: a way to learn and to debug, not to serve load.
   */
  trace?: boolean | ((line: string) => void);

  // -- limits: each refuses what is past it, 0 turns it off ------------------

  /**
   * The longest request target (path and query) in bytes: past it, 414 URI
   * Too Long before the application runs. Default 8192, nginx's buffer for
   * a request line (gunicorn's `limit_request_line` is 4094 for the whole
   * line). Deno itself refuses a head over 64 KiB with a 400.
   */
  limitRequestTarget?: number;
  /**
   * The most header fields a request may carry: past it, 431 Request Header
   * Fields Too Large. Off by default: Deno already answers 400 past 128
   * fields, and counting costs reading every header. gunicorn says 100.
   */
  limitRequestFields?: number;
  /**
   * The longest header field (`name: value`) in bytes: past it, 431. Off by
   * default: Deno answers 400 to a head over 64 KiB. gunicorn says 8190.
   */
  limitRequestFieldSize?: number;
  /**
   * The largest request body in bytes: 413 Content Too Large before the
   * application runs when Content-Length says more; a chunked upload that
   * grows past it fails the read, and the answer is 413 (or the connection
   * closes if the response has started). Default 100 MiB.
   */
  limitRequestBody?: number;

  // -- timeouts, in seconds: 0 turns one off ----------------------------------

  /**
   * A request body that sends no byte for this long fails the read, and the
   * answer is 408 Request Timeout if the response has not started. Default
   * 60, nginx's `client_body_timeout`.
   */
  readTimeout?: number;
  /**
   * A client that takes no byte of a streamed response for this long: the
   * response is aborted and the body's `close()` called. Default 60,
   * nginx's `send_timeout`. Deno keeps the socket until the client reads or
   * leaves (docs/limits.md): in front of untrusted clients, nginx's
   * `send_timeout` closes it.
   */
  sendTimeout?: number;
  /**
   * An application that has not answered after this long gets one log line
   * naming the request (method, path, how long). Default 10.
   */
  slowAppWarning?: number;
  /**
   * An application that has not answered after this long: 503 Service
   * Unavailable, the body's `close()` called, `deno.signal` fired. Default
   * 30, gunicorn's worker `timeout`. The time counted is the application's
   * own: while a read of `wsgi.input` waits for the client's upload, the
   * clock stands still (`readTimeout` bounds a stalled upload), so a slow
   * upload is never blamed on the application. The 503 may come up to a
   * tenth of this late when the time runs out just after such a read.
   */
  appTimeout?: number;
}

/**
 * Options for {@linkcode serve}: everything `Deno.serve` takes (port,
 * hostname, signal, onListen, cert and key, or a unix socket path) plus the
 * gateway's own.
 *
 * @example
 * ```ts
 * import type { ServeOptions } from "@denowsgi/wsgi";
 *
 * const options: ServeOptions = { hostname: "127.0.0.1", port: 8000 };
 * ```
 */
export type ServeOptions =
  & (
    | Deno.ServeTcpOptions
    | (Deno.ServeTcpOptions & Deno.TlsCertifiedKeyPem)
    | Deno.ServeUnixOptions
  )
  & GatewayOptions;

/**
 * A fetch handler, as `Deno.serve` and `deno serve` call it.
 *
 * @example
 * ```ts
 * import { type FetchHandler, toFetchHandler } from "@denowsgi/wsgi";
 *
 * const fetch: FetchHandler = toFetchHandler((_e, sr) => {
 *   sr("200 OK", []);
 *   return ["ok"];
 * });
 * ```
 */
export type FetchHandler = (
  request: Request,
  info?: Deno.ServeHandlerInfo,
) => Promise<Response>;

/**
 * The error thrown into an application that breaks a rule of the contract:
 * a bad status or header, a second `startResponse` without `excInfo`, a
 * chunk that is not a string or bytes. The gateway answers such a request
 * with a 500 and one log line naming the rule, even if the application
 * catches the error.
 *
 * @example
 * ```ts
 * import { type Application, ContractError } from "@denowsgi/wsgi";
 *
 * const app: Application = (_environ, startResponse) => {
 *   try {
 *     startResponse("200", []);
 *   } catch (error) {
 *     console.log(error instanceof ContractError); // true: no reason phrase
 *   }
 *   return [];
 * };
 * ```
 */
export class ContractError extends Error {}
