/**
 * `wsgi.file_wrapper`: an open file as a body, streamed as the client reads
 * and closed however the response ends. Real files come from examples/,
 * the one folder the tests may read; Deno's resource sanitizer fails any
 * test that leaves one open.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { Application } from "../mod.ts";
import { setupTestingDefaults } from "../util.ts";
import { harness } from "./_helpers.ts";

const FILE = new URL("../examples/holamundo.ts", import.meta.url);

function serving(): Application {
  return async (environ, startResponse) => {
    const file = await Deno.open(FILE);
    startResponse("200 OK", [["Content-Type", "text/plain"]]);
    return environ["wsgi.file_wrapper"]!(file, 8192);
  };
}

/** A file-like object whose stream never ends, counting close() calls. */
function endless() {
  let closed = 0;
  const readable = new ReadableStream<Uint8Array>({
    pull: (controller) => controller.enqueue(new Uint8Array(1024)),
  });
  return {
    file: { readable, close: () => void closed++ },
    closed: () => closed,
  };
}

Deno.test("file_wrapper: a file goes out whole, streamed, and is closed", async () => {
  const { handler, lines } = harness(serving());
  const response = await handler(new Request("http://localhost/"));
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("content-length"), null);
  assert.deepEqual(
    new Uint8Array(await response.arrayBuffer()),
    await Deno.readFile(FILE),
  );
  assert.deepEqual(lines, []);
});

Deno.test("file_wrapper: a HEAD request closes the file it never reads", async () => {
  const { handler } = harness(serving());
  const response = await handler(
    new Request("http://localhost/", { method: "HEAD" }),
  );
  assert.equal(await response.text(), "");
});

Deno.test("file_wrapper: a client that leaves mid-file closes it", async () => {
  const { handler } = harness(serving());
  const response = await handler(new Request("http://localhost/"));
  const reader = response.body!.getReader();
  await reader.read();
  await reader.cancel();
});

Deno.test("file_wrapper: close() reaches the file once when the client leaves", async () => {
  const { file, closed } = endless();
  const { handler } = harness((environ, startResponse) => {
    startResponse("200 OK", []);
    return environ["wsgi.file_wrapper"]!(file);
  });
  const response = await handler(new Request("http://localhost/"));
  const reader = response.body!.getReader();
  await reader.read();
  await reader.cancel();
  assert.equal(closed(), 1);
});

Deno.test("file_wrapper: setupTestingDefaults provides it too", () => {
  const environ = {};
  setupTestingDefaults(environ);
  assert.equal(typeof environ["wsgi.file_wrapper"], "function");
});
