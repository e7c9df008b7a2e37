/**
 * The course lesson's `webapp/holamundo.py`, line for line in TypeScript.
 *
 * Run it with `deno run --allow-net examples/holamundo.ts`, open
 * http://localhost:8000, then http://localhost:8000/python-logo.png: the
 * application answers only what it defines, so the page comes back again.
 *
 * @module
 */
import { type Application, type Header, serve } from "@denowsgi/wsgi";

/** The lesson's application: the same page, whatever the request. */
export const holaMundoApp: Application = (_environ, startResponse) => {
  const status = "200 OK";
  const headers: Header[] = [
    ["Content-type", "text/html; charset=utf-8"],
  ];
  startResponse(status, headers);
  return [`
    <html>
        <body>
            <h1>Hecho con Python</h1>
            <h3>Hecho con <3</h3>
            <hr />
            <p>Hola mundo!</p>
        </body>
    </html>
    `];
};

if (import.meta.main) {
  const port = 8000;
  const host = "localhost";
  const httpd = listenOrExit(port, () =>
    serve(holaMundoApp, {
      hostname: host,
      port,
      onListen() {
        console.log(
          `Escuchando en ${host}:${port}... [Presiona Ctrl+C para terminar!]`,
        );
      },
    }));
  // Ctrl+C: let requests in flight finish, then exit without a traceback.
  const stop = () => httpd.shutdown();
  Deno.addSignalListener("SIGINT", stop);
  await httpd.finished;
  Deno.removeSignalListener("SIGINT", stop);
  console.log("Servidor detenido.");
}

/**
 * Runs `listen`, the call that opens `port`. Not in the lesson: a port still
 * held by another server gets one sentence and exit code 1, not a stack
 * trace. The other examples use it too.
 *
 * @example
 * ```ts
 * import { makeServer } from "@denowsgi/wsgi";
 * import { holaMundoApp, listenOrExit } from "./holamundo.ts";
 *
 * await using httpd = listenOrExit(0, () => makeServer("127.0.0.1", 0, holaMundoApp));
 * ```
 */
export function listenOrExit<Server>(
  port: number,
  listen: () => Server,
): Server {
  try {
    return listen();
  } catch (error) {
    if (!(error instanceof Deno.errors.AddrInUse)) throw error;
    console.error(
      `El puerto ${port} ya está en uso: detén el otro servidor (Ctrl+C) o cambia el puerto.`,
    );
    Deno.exit(1);
  }
}
