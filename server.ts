/**
 * The server you run, as `python -m wsgiref.simple_server` or gunicorn:
 *
 * ```sh
 * deno run --allow-net --allow-read server.ts examples/holamundo.ts:holaMundoApp
 * ```
 *
 * As a module it holds wsgiref's `simple_server` half: {@linkcode makeServer}
 * and {@linkcode demoApp}, beside {@linkcode serve} and
 * {@linkcode toFetchHandler}.
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

import { main } from "./cli/main.ts";

export { serve, toFetchHandler } from "./gateway/serve.ts";
export { demoApp, makeServer, type WSGIServer } from "./cli/simple_server.ts";
export type { ServerConfig } from "./cli/config.ts";

if (import.meta.main) Deno.exit(await main(Deno.args));
