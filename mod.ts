/**
 * PEP 3333 (Python's WSGI) for Deno: an application is a function
 * `(environ, startResponse) => body`, and {@linkcode serve} runs it on
 * `Deno.serve`, turning each `Request` into an {@linkcode Environ} and the
 * chunks the application returns into a streamed `Response`.
 *
 * This module is the door: it holds nothing of its own. Read the code in
 * this order, which is the order one request takes:
 *
 * 1. `types.ts` — the contract, PEP 3333 as types; it imports nothing.
 * 2. `gateway/serve.ts` — `serve` and `toFetchHandler`: Deno's doors in.
 * 3. `gateway/environ.ts` — the environ, built from the `Request`.
 * 4. `gateway/exchange.ts` — the application called, `startResponse`
 *    checked (by `gateway/rules.ts`), the body closed, errors answered.
 * 5. `gateway/response.ts` — the body sent, at once or streamed.
 * 6. `gateway/input.ts`, `errors.ts`, `file_wrapper.ts`, `log.ts` — the
 *    environ's streams and the access log and trace.
 * 7. `server.ts` — the command line and wsgiref's `makeServer`.
 *
 * @example The lesson's hola mundo
 * ```ts
 * import { type Application, serve } from "@denowsgi/wsgi";
 *
 * const app: Application = (environ, startResponse) => {
 *   startResponse("200 OK", [["Content-Type", "text/plain; charset=utf-8"]]);
 *   return [`Hola mundo desde ${environ.PATH_INFO}\n`];
 * };
 *
 * serve(app, { hostname: "localhost", port: 8000 });
 * ```
 *
 * @module
 */

export * from "./types.ts";
export { serve, toFetchHandler } from "./gateway/serve.ts";
export { demoApp, makeServer, type WSGIServer } from "./cli/simple_server.ts";
