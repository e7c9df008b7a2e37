/**
 * The lesson's app with `python-logo.png` served beside it: the files of
 * this folder under `/static`, every other path for `holaMundoApp`. Step 8
 * of the handout (examples/README.md).
 *
 * Run it with `deno run --allow-net --allow-read examples/holamundo-static.ts`.
 *
 * @module
 */
import { serve } from "@denowsgi/wsgi";
import { sharedData } from "@denowsgi/wsgi/static";
import { holaMundoApp, listenOrExit } from "./holamundo.ts";

// Los archivos de esta carpeta, bajo /static; lo demás, para holaMundoApp.
export const appConLogo = sharedData(holaMundoApp, {
  "/static": new URL(".", import.meta.url),
});

if (import.meta.main) {
  const port = 8000;
  const host = "localhost";
  const httpd = listenOrExit(port, () =>
    serve(appConLogo, {
      hostname: host,
      port,
      onListen() {
        console.log(
          `Escuchando en ${host}:${port}... [Presiona Ctrl+C para terminar!]`,
        );
      },
    }));
  await httpd.finished;
}
