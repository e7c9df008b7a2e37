/**
 * The lesson's app on every core, with Deno's own engine: `deno serve
 * --parallel` starts one isolate per core on one shared port, each loading
 * this module and calling its default export's `fetch`.
 *
 * ```sh
 * deno serve --parallel --allow-net --host 127.0.0.1 --port 8000 examples/parallel.ts
 * DENO_JOBS=2 deno serve --parallel …   # a set number of workers
 * ```
 *
 * `server.ts -w N module.ts` runs worker processes instead, under a
 * supervisor that restarts them (docs/deploying.md).
 *
 * @module
 */
import { toFetchHandler } from "@denowsgi/wsgi";
import { holaMundoApp } from "./holamundo.ts";

/** Each worker's handler; `wsgi.multiprocess` is true, as it is here. */
export default {
  fetch: toFetchHandler(holaMundoApp, { multiprocess: true }),
} satisfies Deno.ServeDefaultExport;
