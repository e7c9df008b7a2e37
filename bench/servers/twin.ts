/**
 * One side of an HTTP benchmark scenario, in its own process so that its
 * peak RSS is its own:
 *
 *     deno run --allow-net bench/servers/twin.ts <wsgi|raw> <scenario> <port> [bytes]
 *
 * `wsgi` serves the scenario's application through the gateway's `serve`;
 * `raw` serves its raw twin with `Deno.serve`. bench/http.ts starts both.
 *
 * @module
 */
import { serve } from "../../mod.ts";
import { HTTP_SCENARIOS } from "../scenarios.ts";
import { listenOn, serveUntilStdinCloses } from "./_lifetime.ts";

const [side, name, port, bytes] = Deno.args;
const scenario = HTTP_SCENARIOS[name];
if (scenario === undefined || (side !== "wsgi" && side !== "raw")) {
  console.error(
    "usage: twin.ts <wsgi|raw> <scenario> <port> [bytes]; scenarios:",
    Object.keys(HTTP_SCENARIOS).join(", "),
  );
  Deno.exit(2);
}
const { app, raw } = scenario.twins(Number(bytes ?? scenario.bytes ?? 0));
await serveUntilStdinCloses(
  side === "wsgi"
    ? serve(app, listenOn(port))
    : Deno.serve(listenOn(port), raw),
);
