/**
 * mount: the longest prefix at a segment boundary, SCRIPT_NAME and
 * PATH_INFO as a mounted application expects them, hosts, the 404 and the
 * fallback. Through the public test client.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { Application } from "../mod.ts";
import { mount } from "../mount.ts";
import { Client } from "../testing.ts";
import { applicationUri, requestUri } from "../util.ts";

/** Says who answered and how it sees the path. */
function named(name: string): Application {
  return (environ, startResponse) => {
    startResponse("200 OK", [["Content-Type", "application/json"]]);
    return [JSON.stringify({
      name,
      script: environ.SCRIPT_NAME,
      path: environ.PATH_INFO,
      request: requestUri(environ),
      application: applicationUri(environ),
    })];
  };
}

interface Seen {
  name: string;
  script: string;
  path: string;
  request: string;
  application: string;
}

const client = new Client(mount({
  "/": named("site"),
  "/api": named("api"),
  "/api/v2/": named("v2"),
}));

async function seen(path: string, c = client): Promise<Seen> {
  const response = await c.get(path);
  assert.equal(response.status, 200, response.text);
  return response.json<Seen>();
}

Deno.test("mount: a prefix moves from PATH_INFO to SCRIPT_NAME", async () => {
  const { name, script, path } = await seen("/api/users/7");
  assert.deepEqual([name, script, path], ["api", "/api", "/users/7"]);
});

Deno.test("mount: the longest prefix wins (a trailing / in the key is the same prefix)", async () => {
  const { name, script, path } = await seen("/api/v2/users");
  assert.deepEqual([name, script, path], ["v2", "/api/v2", "/users"]);
});

Deno.test("mount: only at a segment boundary: /apix is not under /api", async () => {
  const { name, script, path } = await seen("/apix");
  assert.deepEqual([name, script, path], ["site", "", "/apix"]);
  assert.equal((await seen("/api/v2x")).name, "api");
});

Deno.test("mount: the prefix itself leaves PATH_INFO empty; with / it is /", async () => {
  assert.deepEqual(
    [(await seen("/api")).path, (await seen("/api")).script],
    ["", "/api"],
  );
  assert.equal((await seen("/api/")).path, "/");
});

Deno.test("mount: requestUri and applicationUri still give the URL the client asked for", async () => {
  const url = "http://localhost/api/caf%C3%A9/x?q=1&q=2";
  const { request, application } = await seen(url);
  assert.equal(request, url);
  assert.equal(application, "http://localhost/api");
});

Deno.test("mount: mounts nest, and SCRIPT_NAME keeps growing", async () => {
  const inner = new Client(
    mount({ "/outer": mount({ "/inner": named("deep") }) }),
  );
  const { script, path } = await seen("/outer/inner/leaf", inner);
  assert.deepEqual([script, path], ["/outer/inner", "/leaf"]);
});

Deno.test("mount: no match is a plain 404, or the fallback with the environ untouched", async () => {
  const bare = new Client(mount({ "/api": named("api") }));
  const response = await bare.get("/nada");
  assert.equal(response.statusLine, "404 Not Found");
  assert.equal(
    response.headers.get("content-type"),
    "text/plain; charset=utf-8",
  );
  const withFallback = new Client(
    mount({ "/api": named("api") }, { fallback: named("fallback") }),
  );
  const { name, script, path } = await seen("/nada", withFallback);
  assert.deepEqual([name, script, path], ["fallback", "", "/nada"]);
});

Deno.test("mount: a host in the key matches that Host only, with or without its port", async () => {
  const app = mount({
    "/": named("any"),
    "api.example.com": named("api-host"),
    "admin.example.com:8080/panel": named("admin"),
  });
  const api = new Client(app, { baseUrl: "http://API.example.com:8000" });
  assert.equal((await seen("/x", api)).name, "api-host");
  const other = new Client(app, { baseUrl: "http://www.example.com" });
  assert.equal((await seen("/x", other)).name, "any");
  const admin = new Client(app, { baseUrl: "http://admin.example.com:8080" });
  const { name, script, path } = await seen("/panel/users", admin);
  assert.deepEqual([name, script, path], ["admin", "/panel", "/users"]);
  const wrongPort = new Client(app, {
    baseUrl: "http://admin.example.com:9090",
  });
  assert.equal((await seen("/panel/users", wrongPort)).name, "any");
});

Deno.test("mount: what is not an application is refused when mounting", () => {
  assert.throws(
    () => mount({ "/x": "nope" as unknown as Application }),
    /the application at \/x is not a function/,
  );
});
