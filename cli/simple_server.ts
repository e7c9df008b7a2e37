/**
 * wsgiref's `simple_server`, reduced to what the lesson uses:
 * {@linkcode makeServer} with its `serveForever()`, and `demo_app`.
 *
 * @module
 */

import type {
  Application,
  Environ,
  GatewayOptions,
  StartResponse,
} from "../types.ts";
import { STOP_SIGNALS } from "./drain.ts";
import { flushLogs, show } from "../gateway/log.ts";
import { serve } from "../gateway/serve.ts";

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
  // The access log is written behind the requests: it is flushed last.
  const shutdown = () => server.shutdown().then(() => flushLogs());
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
        await flushLogs();
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
