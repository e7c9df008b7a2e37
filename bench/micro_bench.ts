/**
 * The gateway's own cost per request, with no socket: `toFetchHandler(app)`
 * against a raw fetch handler that produces the same response, each group
 * with the raw handler as its baseline.
 *
 *     deno bench bench/micro_bench.ts
 *
 * Every iteration builds a fresh `Request` (as `Deno.serve` does) and reads
 * the response body to the end, on both sides; the difference in time per
 * iteration is what the gateway adds. The cases are in bench/scenarios.ts.
 *
 * @module
 */
import { toFetchHandler } from "../mod.ts";
import { drain, MICRO_CASES, SERVE_INFO } from "./scenarios.ts";

for (const { group, twins, request } of Object.values(MICRO_CASES)) {
  const gateway = toFetchHandler(twins.app);
  Deno.bench({
    name: "raw fetch handler",
    group,
    baseline: true,
    async fn() {
      await drain(await twins.raw(request()));
    },
  });
  Deno.bench({
    name: "toFetchHandler(app)",
    group,
    async fn() {
      await drain(await gateway(request(), SERVE_INFO));
    },
  });
}
