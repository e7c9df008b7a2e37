/**
 * The lesson's example, through the fetch handler: no socket, no process.
 * (Running `examples/holamundo.ts` as a program needs --allow-run in tests,
 * which the test permissions do not grant; CI runs it instead.)
 *
 * @module
 */

import assert from "node:assert/strict";
import { toFetchHandler } from "../mod.ts";
import { holaMundoApp } from "../examples/holamundo.ts";

const handler = toFetchHandler(holaMundoApp);

async function get(path: string): Promise<Response> {
  return await handler(new Request(`http://localhost:8000${path}`));
}

Deno.test("the hola mundo app answers GET / with its HTML page", async () => {
  const response = await get("/");
  assert.equal(response.status, 200);
  assert.equal(
    response.headers.get("content-type"),
    "text/html; charset=utf-8",
  );
  const page = await response.text();
  assert.ok(page.includes("<h1>Hecho con Python</h1>"));
  assert.ok(page.includes("<h3>Hecho con <3</h3>"));
  assert.ok(page.includes("<p>Hola mundo!</p>"));
});

Deno.test("the hola mundo app answers /python-logo.png with the same page, since it serves only what it defines", async () => {
  const page = await (await get("/")).text();
  const logo = await get("/python-logo.png");
  assert.equal(logo.status, 200);
  assert.equal(logo.headers.get("content-type"), "text/html; charset=utf-8");
  assert.equal(await logo.text(), page);
});

Deno.test("examples/parallel.ts: a deno serve module whose fetch says wsgi.multiprocess", async () => {
  const { default: parallel } = await import("../examples/parallel.ts");
  const response = await parallel.fetch(new Request("http://localhost/"));
  assert.ok((await response.text()).includes("<p>Hola mundo!</p>"));
});
