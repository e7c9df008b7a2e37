/**
 * The server bench/soak.ts loads: the lesson's page at `/`, an endless
 * stream at `/stream` whose `close()` calls are counted, the count at
 * `/closes`, a 1 KiB POST read at `/post`, and at `/memory` the process's memory after a full garbage
 * collection (with `--v8-flags=--expose-gc`), so that what stays is told from
 * what only waits to be collected. Default limits and timeouts, no access log.
 * With `raw`, the same routes straight on `Deno.serve`, for comparison.
 *
 *     deno run --allow-net --v8-flags=--expose-gc bench/servers/soak.ts <port> [raw]
 *
 * @module
 */
import { type Application, serve } from "../../mod.ts";
import { holaMundoApp } from "../../examples/holamundo.ts";
import { listenOn, serveUntilStdinCloses } from "./_lifetime.ts";

let closes = 0;
const chunk = new Uint8Array(16 * 1024);
const tick = () => new Promise((resolve) => setTimeout(resolve, 1));

/** The memory that stays: a full collection first, when one can be asked. */
function memory(): string {
  (globalThis as { gc?: () => void }).gc?.();
  return JSON.stringify(Deno.memoryUsage());
}

const app: Application = async (environ, startResponse) => {
  if (environ.PATH_INFO === "/post") {
    const body = await environ["wsgi.input"].read();
    startResponse("200 OK", [["Content-Type", "text/plain"]]);
    return [`${body.byteLength}`];
  }
  if (environ.PATH_INFO === "/closes") {
    startResponse("200 OK", [["Content-Type", "text/plain"]]);
    return [`${closes}`];
  }
  if (environ.PATH_INFO === "/memory") {
    startResponse("200 OK", [["Content-Type", "application/json"]]);
    return [memory()];
  }
  if (environ.PATH_INFO !== "/stream") {
    return holaMundoApp(environ, startResponse);
  }
  startResponse("200 OK", [["Content-Type", "application/octet-stream"]]);
  return Object.assign(
    (async function* () {
      while (true) {
        yield chunk;
        await tick();
      }
    })(),
    { close: () => void closes++ },
  );
};

/** The same routes as `app`, the stream's cancel() counted as its close(). */
async function raw(request: Request): Promise<Response> {
  const path = new URL(request.url).pathname;
  if (path === "/post") {
    return new Response(`${(await request.arrayBuffer()).byteLength}`);
  }
  if (path === "/closes") return new Response(`${closes}`);
  if (path === "/memory") return new Response(memory());
  if (path !== "/stream") return new Response("hola mundo");
  return new Response(
    new ReadableStream({
      async pull(controller) {
        controller.enqueue(chunk);
        await tick();
      },
      cancel() {
        closes++;
      },
    }),
  );
}

const [port, kind] = Deno.args;
await serveUntilStdinCloses(
  kind === "raw" ? Deno.serve(listenOn(port), raw) : serve(app, listenOn(port)),
);
