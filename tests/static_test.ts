/**
 * Static files: types, validators, conditional and range requests, HEAD,
 * the middleware's fall-through, and every path that must never be served,
 * each its own test. Unit tests through the public test client; the wire
 * tests (Range, 304, HEAD, and the `..` spellings a URL parser would
 * normalize away) on a real server.
 *
 * @module
 */

import assert from "node:assert/strict";
import { type Application, toFetchHandler } from "../mod.ts";
import { mount } from "../mount.ts";
import { serveDir, sharedData } from "../static.ts";
import { Client } from "../testing.ts";
import { collector, connect, exchange, listen } from "./_helpers.ts";

const ROOT = new URL("./fixtures/static/", import.meta.url);
const client = new Client(mount({ "/static": serveDir(ROOT) }));

Deno.test("static: a text file with charset=utf-8, its length, validators and Accept-Ranges", async () => {
  const response = await client.get("/static/hello.txt");
  assert.equal(response.statusLine, "200 OK");
  assert.equal(response.text, "Hola desde un archivo\n");
  const h = response.headers;
  assert.equal(h.get("content-type"), "text/plain; charset=utf-8");
  assert.equal(h.get("content-length"), "22");
  assert.equal(h.get("accept-ranges"), "bytes");
  assert.match(h.get("etag") ?? "", /^"[0-9a-f]+-[0-9a-f]+"$/);
  const { mtime } = await Deno.stat(new URL("hello.txt", ROOT));
  assert.equal(h.get("last-modified"), mtime!.toUTCString());
  assert.equal(h.get("cache-control"), null, "none unless asked");
});

Deno.test("static: types by extension; binary types get no charset; unknown is octet-stream", async () => {
  const app = mount({
    "/ex": serveDir(new URL("../examples/", import.meta.url)),
    "/s": serveDir(ROOT, { contentTypes: { ".bin": "application/x-digits" } }),
  });
  const c = new Client(app);
  const png = await c.get("/ex/python-logo.png");
  assert.equal(png.headers.get("content-type"), "image/png");
  assert.deepEqual(
    png.body,
    await Deno.readFile(
      new URL("../examples/python-logo.png", import.meta.url),
    ),
  );
  assert.equal(
    (await c.get("/ex/README.md")).headers.get("content-type"),
    "text/markdown; charset=utf-8",
  );
  assert.equal(
    (await c.get("/s/digits.bin")).headers.get("content-type"),
    "application/x-digits",
  );
  assert.equal(
    (await client.get("/static/digits.bin")).headers.get("content-type"),
    "application/octet-stream",
  );
});

Deno.test("static: Cache-Control as set", async () => {
  const c = new Client(serveDir(ROOT, { cacheControl: "public, max-age=60" }));
  const response = await c.get("/hello.txt");
  assert.equal(response.headers.get("cache-control"), "public, max-age=60");
});

Deno.test("static: If-None-Match with the ETag (weak or in a list) → 304, no body, validators kept", async () => {
  const etag = (await client.get("/static/hello.txt")).headers.get("etag")!;
  for (const header of [etag, `W/${etag}`, `"x", ${etag}`, "*"]) {
    const response = await client.get("/static/hello.txt", {
      headers: { "If-None-Match": header },
    });
    assert.equal(response.statusLine, "304 Not Modified", header);
    assert.equal(response.text, "");
    assert.equal(response.headers.get("etag"), etag);
  }
  const changed = await client.get("/static/hello.txt", {
    headers: { "If-None-Match": '"other"' },
  });
  assert.equal(changed.status, 200);
});

Deno.test("static: If-Modified-Since → 304 when not newer; ignored when If-None-Match is there", async () => {
  const first = await client.get("/static/hello.txt");
  const lastModified = first.headers.get("last-modified")!;
  const since = await client.get("/static/hello.txt", {
    headers: { "If-Modified-Since": lastModified },
  });
  assert.equal(since.status, 304);
  const older = new Date(Date.parse(lastModified) - 1000).toUTCString();
  const modified = await client.get("/static/hello.txt", {
    headers: { "If-Modified-Since": older },
  });
  assert.equal(modified.status, 200);
  const both = await client.get("/static/hello.txt", {
    headers: { "If-Modified-Since": lastModified, "If-None-Match": '"x"' },
  });
  assert.equal(both.status, 200);
});

Deno.test("static: one Range → 206 with Content-Range; open and suffix ranges", async () => {
  const cases: [string, string, string][] = [
    ["bytes=2-5", "2345", "bytes 2-5/16"],
    ["bytes=10-", "abcdef", "bytes 10-15/16"],
    ["bytes=-3", "def", "bytes 13-15/16"],
    ["bytes=14-99", "ef", "bytes 14-15/16"],
    ["bytes=-99", "0123456789abcdef", "bytes 0-15/16"],
  ];
  for (const [range, text, contentRange] of cases) {
    const response = await client.get("/static/digits.bin", {
      headers: { Range: range },
    });
    assert.equal(response.statusLine, "206 Partial Content", range);
    assert.equal(response.text, text, range);
    assert.equal(response.headers.get("content-range"), contentRange);
    assert.equal(response.headers.get("content-length"), String(text.length));
  }
});

Deno.test("static: an unsatisfiable range → 416 with bytes */size", async () => {
  for (const range of ["bytes=16-", "bytes=99-100", "bytes=-0"]) {
    const response = await client.get("/static/digits.bin", {
      headers: { Range: range },
    });
    assert.equal(response.statusLine, "416 Range Not Satisfiable", range);
    assert.equal(response.headers.get("content-range"), "bytes */16");
  }
});

Deno.test("static: several, malformed or stale (If-Range) ranges get the whole file", async () => {
  for (
    const headers of <Record<string, string>[]> [
      { Range: "bytes=0-1,4-5" },
      { Range: "bytes=5-2" },
      { Range: "items=0-1" },
      { Range: "bytes=0-1", "If-Range": '"stale"' },
    ]
  ) {
    const response = await client.get("/static/digits.bin", { headers });
    assert.equal(response.status, 200, JSON.stringify(headers));
    assert.equal(response.text, "0123456789abcdef");
  }
  const etag = (await client.get("/static/digits.bin")).headers.get("etag")!;
  const fresh = await client.get("/static/digits.bin", {
    headers: { Range: "bytes=0-1", "If-Range": etag },
  });
  assert.equal(fresh.status, 206);
});

Deno.test("static: HEAD has the headers of GET and no body", async () => {
  const response = await client.head("/static/hello.txt");
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("content-length"), "22");
  assert.equal(response.body.byteLength, 0);
});

Deno.test("static: an empty file, and methods other than GET and HEAD → 405", async () => {
  const empty = await client.get("/static/empty.txt");
  assert.equal(empty.status, 200);
  assert.equal(empty.headers.get("content-length"), "0");
  const post = await client.post("/static/hello.txt", { body: "x" });
  assert.equal(post.statusLine, "405 Method Not Allowed");
  assert.equal(post.headers.get("allow"), "GET, HEAD");
});

Deno.test("static: a symlink inside the root is followed", async () => {
  assert.equal(
    (await client.get("/static/link.txt")).text,
    "Hola desde un archivo\n",
  );
});

Deno.test("static: a directory needs an index; without its final / it is redirected", async () => {
  assert.equal(
    (await client.get("/static/docs/")).status,
    404,
    "no index by default",
  );
  const c = new Client(
    mount({ "/static": serveDir(ROOT, { index: "index.html" }) }),
  );
  const index = await c.get("/static/docs/");
  assert.equal(index.text, "<h1>Documentos</h1>\n");
  assert.equal(index.headers.get("content-type"), "text/html; charset=utf-8");
  const bare = await c.get("/static/docs?x=1");
  assert.equal(bare.statusLine, "301 Moved Permanently");
  assert.equal(
    bare.headers.get("location"),
    "http://localhost/static/docs/?x=1",
  );
  const top = await c.get("/static");
  assert.equal(top.headers.get("location"), "http://localhost/static/");
});

Deno.test("static: a file that is not there → 404", async () => {
  const response = await client.get("/static/nada.txt");
  assert.equal(response.statusLine, "404 Not Found");
  assert.equal((await client.get("/static/hello.txt/x")).status, 404);
});

Deno.test("static: the file is closed when the client stops reading", async () => {
  const { errors, lines } = collector();
  const handler = toFetchHandler(mount({ "/static": serveDir(ROOT) }), {
    errors,
  });
  for (const headers of [{}, { Range: "bytes=1-3" }] as HeadersInit[]) {
    const response = await handler(
      new Request("http://localhost/static/digits.bin", { headers }),
    );
    await response.body!.cancel();
  }
  assert.equal(lines.length, 2, "one line per response cut short");
  // The resource sanitizer fails this test if a file stayed open.
});

// -- never served: each spelling its own test ---------------------------------

/** Asserts the client gets a 404 that does not hold the file's text. */
async function refused(path: string, c = client): Promise<void> {
  const response = await c.get(path);
  assert.equal(response.status, 404, `${path} → ${response.status}`);
  assert.doesNotMatch(response.text, /outside the root|SECRET=1|^hidden\n$/);
}

const NEVER: [string, string][] = [
  ["..%2f (an escaped slash after ..)", "/static/..%2foutside.txt"],
  ["%2e%2e%2f (all escaped)", "/static/%2e%2e%2foutside.txt"],
  ["..%5c (a backslash)", "/static/..%5coutside.txt"],
  ["a backslash anywhere in a name", "/static/docs%5cindex.html"],
  ["NUL", "/static/hello.txt%00.png"],
  ["%2f at the start: an absolute path", "/static/%2fetc/passwd"],
  ["an empty segment", "/static/docs//index.html"],
  ["a drive letter", "/static/C:/Windows/win.ini"],
  ["a symlink out of the root", "/static/escape.txt"],
  ["a dotfile", "/static/.env"],
  ["a file in a dot directory", "/static/.hidden/x.txt"],
  ["a symlink to a dotfile", "/static/visible-env"],
  ["a symlink that loops", "/static/loop.txt"],
];
for (const [what, path] of NEVER) {
  Deno.test(`static: never served: ${what}`, () => refused(path));
}

Deno.test("static: never served: . as a segment (set by a middleware, past the URL parser)", async () => {
  const raw: Application = (environ, startResponse) => {
    environ.PATH_INFO = "/./hello.txt";
    return serveDir(ROOT)(environ, startResponse);
  };
  await refused("/x", new Client(raw));
});

Deno.test("static: dotfiles are served when allowed; .. still is not", async () => {
  const c = new Client(serveDir(ROOT, { dotfiles: true }));
  assert.equal((await c.get("/.env")).text, "SECRET=1\n");
  await refused("/..%2foutside.txt", c);
});

Deno.test("static (wire): .. and %2e%2e in the raw request target → 404", async () => {
  await using server = listen(mount({ "/static": serveDir(ROOT) }));
  for (
    const target of [
      "/static/../outside.txt",
      "/static/%2e%2e/outside.txt",
      "/static/%2E%2E/outside.txt",
      "/static/docs/../../outside.txt",
    ]
  ) {
    const reply = await exchange(
      await connect(server.port),
      `GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
    );
    assert.match(reply, /^HTTP\/1\.1 404 /, target);
    assert.doesNotMatch(reply, /outside the root/, target);
  }
});

// -- the middleware ---------------------------------------------------------------

Deno.test("sharedData: files under the prefix, everything else (and a missing file) to the app, untouched", async () => {
  const app: Application = (environ, startResponse) => {
    startResponse("200 OK", [["Content-Type", "text/plain"]]);
    return [`app: ${environ.SCRIPT_NAME}|${environ.PATH_INFO}`];
  };
  const c = new Client(sharedData(app, { "/static/": ROOT }));
  assert.equal(
    (await c.get("/static/hello.txt")).text,
    "Hola desde un archivo\n",
  );
  assert.equal((await c.get("/other")).text, "app: |/other");
  assert.equal(
    (await c.get("/static/nada.txt")).text,
    "app: |/static/nada.txt",
  );
  assert.equal(
    (await c.get("/static/.env")).status,
    404,
    "refused, not passed on",
  );
});

// -- on the wire: Range, 304, HEAD ------------------------------------------------

Deno.test("static (wire): Range, 304 and HEAD through a real server", async () => {
  await using server = listen(mount({ "/static": serveDir(ROOT) }));
  const url = `${server.url}/static/digits.bin`;
  const partial = await fetch(url, { headers: { Range: "bytes=4-7" } });
  assert.equal(partial.status, 206);
  assert.equal(partial.headers.get("content-range"), "bytes 4-7/16");
  assert.equal(await partial.text(), "4567");

  const etag = partial.headers.get("etag")!;
  const cached = await fetch(url, { headers: { "If-None-Match": etag } });
  assert.equal(cached.status, 304);
  assert.equal(await cached.text(), "");

  const head = await fetch(url, { method: "HEAD" });
  assert.equal(head.status, 200);
  assert.equal(head.headers.get("content-length"), "16");
  assert.equal(await head.text(), "");

  const unsatisfiable = await fetch(url, { headers: { Range: "bytes=20-" } });
  assert.equal(unsatisfiable.status, 416);
  await unsatisfiable.body?.cancel();
  assert.deepEqual(server.lines, [], "nothing logged");
});
