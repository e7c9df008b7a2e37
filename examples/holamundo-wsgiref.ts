/**
 * The lesson's `webapp/holamundo.py` again, this time with wsgiref's own
 * words: `makeServer(host, port, app)` and `serveForever()`, so each Python
 * line has its TypeScript twin.
 *
 * Run it with `deno run --allow-net examples/holamundo-wsgiref.ts`.
 *
 * @module
 */
import { makeServer } from "@denowsgi/wsgi";
import { holaMundoApp, listenOrExit } from "./holamundo.ts";

if (import.meta.main) {
  const port = 8000;
  const host = "localhost";
  await using httpd = listenOrExit(
    port,
    () => makeServer(host, port, holaMundoApp),
  );
  console.log(
    `Escuchando en ${host}:${port}... [Presiona Ctrl+C para terminar!]`,
  );
  await httpd.serveForever();
}
