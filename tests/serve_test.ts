/**
 * Starting and stopping a server: `serve` and wsgiref's `makeServer`, on a
 * real socket at port 0.
 *
 * @module
 */

import { makeServer } from "../mod.ts";
import { echoKey, listen } from "./_helpers.ts";

Deno.test("serve: aborting its signal resolves server.finished", async () => {
  const abort = new AbortController();
  await using listening = listen(echoKey("PATH_INFO"), {
    signal: abort.signal,
  });
  abort.abort();
  await listening.server.finished;
});

Deno.test("makeServer: serveForever() resolves after shutdown()", async () => {
  const httpd = makeServer("127.0.0.1", 0, echoKey("PATH_INFO"));
  const forever = httpd.serveForever();
  await httpd.shutdown();
  await forever;
});
