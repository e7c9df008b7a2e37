/**
 * One side of an HTTP benchmark scenario, in its own process so that its
 * peak RSS is its own:
 *
 *     deno run --allow-net bench/servers/twin.ts <wsgi|raw|raw1|reading|host> <scenario> <port> [bytes]
 *
 * `wsgi` serves the scenario's application through the gateway's `serve`;
 * `raw` serves its raw twin with `Deno.serve`; `raw1` the same through a
 * handler that takes the request, as any real handler does (Deno skips
 * work for a handler with no parameter); `reading` serves the raw twin
 * after reading what any environ needs from Deno (url, method, headers,
 * remote address): the ceiling for a gateway that builds one; `host` reads
 * only the Host header and the URL, what every request costs the gateway.
 * bench/http.ts starts them.
 *
 * @module
 */
import { serve } from "../../mod.ts";
import { HTTP_SCENARIOS } from "../scenarios.ts";
import { listenOn, serveUntilStdinCloses } from "./_lifetime.ts";

const [side, name, port, bytes] = Deno.args;
const scenario = HTTP_SCENARIOS[name];
if (
  scenario === undefined ||
  !["wsgi", "raw", "raw1", "reading", "host"].includes(side)
) {
  console.error(
    "usage: twin.ts <wsgi|raw|raw1|reading|host> <scenario> <port> [bytes]; scenarios:",
    Object.keys(HTTP_SCENARIOS).join(", "),
  );
  Deno.exit(2);
}
const { app, raw } = scenario.twins(Number(bytes ?? scenario.bytes ?? 0));
const reading: Deno.ServeHandler = (request, info) => {
  // Deno materializes these only when asked; an environ must ask.
  void request.url, request.method, info.remoteAddr;
  request.headers.forEach(() => {});
  return raw(request);
};
const handlers: Record<string, Deno.ServeHandler> = {
  raw,
  raw1: (request) => raw(request),
  reading,
  host: (request) => {
    void request.headers.get("host"), request.url;
    return raw(request);
  },
};
await serveUntilStdinCloses(
  side === "wsgi"
    ? serve(app, { ...listenOn(port), ...scenario.gateway })
    : Deno.serve(listenOn(port), handlers[side]),
);
