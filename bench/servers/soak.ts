/**
 * The server bench/soak.ts loads: the lesson's page at `/`, an endless
 * stream at `/stream` whose `close()` calls are counted, the count at
 * `/closes`. Default limits and timeouts, no access log.
 *
 *     deno run --allow-net bench/servers/soak.ts <port>
 *
 * @module
 */
import { type Application, serve } from "../../mod.ts";
import { holaMundoApp } from "../../examples/holamundo.ts";
import { listenOn, serveUntilStdinCloses } from "./_lifetime.ts";

let closes = 0;
const chunk = new Uint8Array(16 * 1024);

const app: Application = (environ, startResponse) => {
  if (environ.PATH_INFO === "/closes") {
    startResponse("200 OK", [["Content-Type", "text/plain"]]);
    return [`${closes}`];
  }
  if (environ.PATH_INFO !== "/stream") {
    return holaMundoApp(environ, startResponse);
  }
  startResponse("200 OK", [["Content-Type", "application/octet-stream"]]);
  return Object.assign(
    (async function* () {
      while (true) {
        yield chunk;
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
    })(),
    { close: () => void closes++ },
  );
};

await serveUntilStdinCloses(serve(app, listenOn(Deno.args[0])));
