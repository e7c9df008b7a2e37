/**
 * The two doors from Deno into the gateway: {@linkcode serve} listens with
 * `Deno.serve`; {@linkcode toFetchHandler} gives a fetch handler for
 * `deno serve`, another framework, or a test with no socket. Both run each
 * request the same way: build the environ, then the exchange.
 *
 * @module
 */

import type {
  Application,
  FetchHandler,
  GatewayOptions,
  ServeOptions,
} from "../types.ts";
import { type Context, context } from "./context.ts";
import { explain, handle, ResponseAborted, serverError } from "./exchange.ts";
import { headOf } from "./head.ts";
import { refuse } from "./limits.ts";
import { denoOptions } from "./options.ts";

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
      ...denoOptions(options) as Deno.ServeTcpOptions,
    },
    gateway(app, shared),
  );
  const addr = server.addr;
  // Deno serves TLS on TCP only, and only with a certificate.
  const tls = addr.transport === "tcp" && "cert" in options &&
    options.cert != null;
  shared.listening.scheme = tls ? "https" : "http";
  if (addr.transport === "tcp") {
    // The name the server was asked to listen on (`localhost`), as wsgiref
    // reports it, rather than the address it resolved to.
    listenedAt(
      shared,
      "hostname" in options && options.hostname
        ? options.hostname
        : addr.hostname,
      addr.port,
      tls ? undefined : addr.hostname,
    );
  }
  return server;
}

/**
 * Where the server listens; `address`, the one it resolved to, is left
 * out under TLS: there HTTP/2 carries the host in :authority and sends no
 * Host, and Deno does not say which version was spoken, so an authority
 * equal to Deno's own fallback may well be the client's.
 */
function listenedAt(
  shared: Context,
  name: string,
  port: number,
  address: string | undefined,
): void {
  shared.listening.name = name;
  shared.listening.port = String(port);
  if (address !== undefined) {
    shared.listening.fallback = fallbackOf(address, port);
  }
}

/**
 * The authority Deno writes into `request.url` for a request with no Host
 * (ext/http's `req_host_from_addr`): `localhost` for a loopback or
 * unspecified address, else the address; the port unless it is 80.
 */
function fallbackOf(address: string, port: number): string {
  const local = address === "localhost" || address.startsWith("127.") ||
    address === "::1" || address === "0.0.0.0" || address === "::";
  const host = local
    ? "localhost"
    : address.includes(":")
    ? port === 80 ? address : `[${address}]`
    : address;
  return port === 80 ? host : `${host}:${port}`;
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
 * One request, in order: the limits, the environ, then the application's
 * exchange.
 */
function gateway(
  app: Application,
  context: Context,
): (
  request: Request,
  info?: Deno.ServeHandlerInfo,
) => Response | Promise<Response> {
  return (request, info) => {
    const head = headOf(request);
    return refuse(request, head, info, context) ??
      handle(app, request, head, info, context);
  };
}
