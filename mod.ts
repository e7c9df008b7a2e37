/**
 * PEP 3333 (Python's WSGI) for Deno: an application is a function
 * `(environ, startResponse) => body`, and {@linkcode serve} runs it on
 * `Deno.serve`, turning each `Request` into an {@linkcode Environ} and the
 * chunks the application returns into a streamed `Response`.
 *
 * This module is the door: it holds nothing of its own. ARCHITECTURE.md
 * gives the order to read the code in, which is the order one request
 * takes: `types.ts`, then `gateway/` from `serve.ts` on, then `cli/`.
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
