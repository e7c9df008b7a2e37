/**
 * The in-process test client, its options and its limits, and the lesson's
 * holamundo example tested through it.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { Application, Environ } from "../mod.ts";
import { Client } from "../testing.ts";
import { holaMundoApp } from "../examples/holamundo.ts";
import { assertLessonPage, collector, echoKey } from "./_helpers.ts";

/** What {@linkcode echo} answers: the environ's string values and the body. */
type Echoed = Record<string, string> & { input: string };

/** Answers with the environ's string values and the body, as JSON. */
const echo: Application = async (environ, startResponse) => {
  const seen: Record<string, unknown> = Object.fromEntries(
    Object.entries(environ).filter(([, value]) => typeof value === "string"),
  );
  seen.input = new TextDecoder().decode(await environ["wsgi.input"].read());
  startResponse("200 OK", [["Content-Type", "application/json"]]);
  return [JSON.stringify(seen)];
};

/** Sends a request to {@linkcode echo} and returns what it saw. */
async function echoed(
  send: (client: Client) => Promise<{ json<T>(): T }>,
  client: Client = new Client(echo),
): Promise<Echoed> {
  return (await send(client)).json<Echoed>();
}

Deno.test("a GET gives back status, reason phrase, status line, headers and body", async () => {
  const response = await new Client(echo).get("/hola");
  assert.equal(response.status, 200);
  assert.equal(response.statusText, "OK");
  assert.equal(response.statusLine, "200 OK");
  assert.equal(response.headers.get("content-type"), "application/json");
  assert.equal(
    response.headers.get("content-length"),
    String(response.body.byteLength),
  );
  assert.equal(new TextDecoder().decode(response.body), response.text);
  const environ = response.json<Echoed>();
  assert.equal(environ.REQUEST_METHOD, "GET");
  assert.equal(environ.PATH_INFO, "/hola");
  assert.equal(environ.input, "");
  assert.deepEqual(response.errors, []);
  assert.equal(response.aborted, false);
});

Deno.test("the application's own reason phrase reaches statusText and statusLine", async () => {
  const response = await new Client((_environ, startResponse) => {
    startResponse("200 Todo bien", []);
    return ["ok"];
  }).get("/");
  assert.equal(response.statusText, "Todo bien");
  assert.equal(response.statusLine, "200 Todo bien");
});

Deno.test("the request comes from REMOTE_ADDR 127.0.0.1 port 50000 to localhost:80, or as the options say", async () => {
  const byDefault = await echoed((client) => client.get("/"));
  assert.equal(byDefault.REMOTE_ADDR, "127.0.0.1");
  assert.equal(byDefault.REMOTE_PORT, "50000");
  assert.equal(byDefault.SERVER_NAME, "localhost");
  assert.equal(byDefault.SERVER_PORT, "80");
  assert.equal(byDefault.HTTP_HOST, "localhost");
  assert.equal(byDefault["wsgi.url_scheme"], "http");
  const chosen = await echoed(
    (client) => client.get("/"),
    new Client(echo, { remoteAddr: "203.0.113.7" }),
  );
  assert.equal(chosen.REMOTE_ADDR, "203.0.113.7");
});

Deno.test("relative paths are resolved against baseUrl, which also gives scheme, host and port", async () => {
  const client = new Client(echo, { baseUrl: "https://example.com:8443/app/" });
  const inFolder = await echoed((c) => c.get("x?y=1"), client);
  assert.equal(inFolder.PATH_INFO, "/app/x");
  assert.equal(inFolder.QUERY_STRING, "y=1");
  assert.equal(inFolder["wsgi.url_scheme"], "https");
  assert.equal(inFolder.SERVER_NAME, "example.com");
  assert.equal(inFolder.SERVER_PORT, "8443");
  assert.equal(inFolder.HTTP_HOST, "example.com:8443");
  assert.equal((await echoed((c) => c.get("/y"), client)).PATH_INFO, "/y");
  const absolute = await echoed((c) => c.get("http://other.test/z"), client);
  assert.equal(absolute.HTTP_HOST, "other.test");
});

Deno.test("query is appended to the query the path already has, form-encoded", async () => {
  const environ = await echoed((client) =>
    client.get("/buscar?a=1", { query: { q: "dos palabras", "ñ": "&" } })
  );
  assert.equal(environ.QUERY_STRING, "a=1&q=dos+palabras&%C3%B1=%26");
  const alone = await echoed((client) =>
    client.get("/", { query: new URLSearchParams([["k", "v"]]) })
  );
  assert.equal(alone.QUERY_STRING, "k=v");
});

Deno.test("a POST body reaches the application through wsgi.input", async () => {
  const environ = await echoed((client) =>
    client.post("/subir", { body: "línea 1\nlínea 2\n" })
  );
  assert.equal(environ.REQUEST_METHOD, "POST");
  assert.equal(environ.input, "línea 1\nlínea 2\n");
  assert.equal(environ.CONTENT_LENGTH, "18");
  assert.equal(environ.CONTENT_TYPE, "text/plain;charset=UTF-8");
});

Deno.test("a ReadableStream body goes without Content-Length, like a chunked upload, and is still read to the end", async () => {
  const environ = await echoed((client) =>
    client.post("/", {
      body: ReadableStream.from(["uno ", "dos"]).pipeThrough(
        new TextEncoderStream(),
      ),
    })
  );
  assert.equal(environ.CONTENT_LENGTH, undefined);
  assert.equal(environ.input, "uno dos");
});

Deno.test("json sends a JSON body with Content-Type application/json, unless the headers name another", async () => {
  const environ = await echoed((client) =>
    client.post("/", { json: { nombre: "Ada", edad: 36 } })
  );
  assert.equal(environ.CONTENT_TYPE, "application/json");
  assert.equal(environ.CONTENT_LENGTH, String(environ.input.length));
  assert.deepEqual(JSON.parse(environ.input), { nombre: "Ada", edad: 36 });
  const typed = await echoed((client) =>
    client.put("/", {
      json: [1],
      headers: { "Content-Type": "application/vnd.api+json" },
    })
  );
  assert.equal(typed.CONTENT_TYPE, "application/vnd.api+json");
  assert.equal(typed.input, "[1]");
});

Deno.test("form sends the fields urlencoded, as an HTML form posts them", async () => {
  const environ = await echoed((client) =>
    client.post("/", { form: { nombre: "Ada Lovelace", lenguaje: "ñ" } })
  );
  assert.equal(
    environ.CONTENT_TYPE,
    "application/x-www-form-urlencoded;charset=UTF-8",
  );
  assert.equal(environ.input, "nombre=Ada+Lovelace&lenguaje=%C3%B1");
});

Deno.test("giving two of body, json and form is a TypeError", async () => {
  const client = new Client(echo);
  await assert.rejects(client.post("/", { body: "a", json: {} }), TypeError);
  await assert.rejects(client.post("/", { json: {}, form: {} }), TypeError);
});

Deno.test("each helper sends its method", async () => {
  const client = new Client(echo);
  const sent = [
    client.get("/"),
    client.head("/"),
    client.post("/"),
    client.put("/"),
    client.patch("/"),
    client.delete("/"),
    client.options("/"),
    client.request("/", { method: "PROPFIND" }),
  ];
  const methods = (await Promise.all(sent)).map((r) => r.request.method);
  assert.deepEqual(methods, [
    "GET",
    "HEAD",
    "POST",
    "PUT",
    "PATCH",
    "DELETE",
    "OPTIONS",
    "PROPFIND",
  ]);
});

Deno.test("cookies travel as headers: Cookie in, Set-Cookie out", async () => {
  const response = await new Client((environ, startResponse) => {
    startResponse("200 OK", [
      ["Set-Cookie", "sesion=nueva; HttpOnly"],
      ["Set-Cookie", "tema=oscuro"],
    ]);
    return [environ.HTTP_COOKIE ?? "sin cookie"];
  }).get("/", { headers: { Cookie: "sesion=vieja" } });
  assert.equal(response.text, "sesion=vieja");
  assert.deepEqual(response.headers.getSetCookie(), [
    "sesion=nueva; HttpOnly",
    "tema=oscuro",
  ]);
});

Deno.test("a streaming generator body is read to the end and closed", async () => {
  let closed = 0;
  const response = await new Client(async function* (_environ, startResponse) {
    try {
      startResponse("200 OK", [["Content-Type", "text/plain"]]);
      for (const word of ["uno ", "dos ", "tres"]) {
        await Promise.resolve();
        yield word;
      }
    } finally {
      closed++;
    }
  }).get("/");
  assert.equal(response.text, "uno dos tres");
  assert.equal(response.headers.get("content-length"), null);
  assert.equal(response.aborted, false);
  assert.equal(closed, 1);
});

Deno.test("a HEAD response has an empty body, and the body the application made is closed", async () => {
  let closed = 0;
  const response = await new Client(function* (_environ, startResponse) {
    try {
      startResponse("200 OK", [["Content-Type", "text/plain"]]);
      yield "not sent";
    } finally {
      closed++;
    }
  }).head("/");
  assert.equal(response.status, 200);
  assert.equal(response.body.byteLength, 0);
  assert.equal(response.text, "");
  assert.equal(closed, 1);
});

/** Writes one line to wsgi.errors, naming the path, then answers "ok". */
const logging: Application = (environ, startResponse) => {
  environ["wsgi.errors"].write(`visto ${environ.PATH_INFO}\n`);
  startResponse("200 OK", []);
  return ["ok"];
};

Deno.test("errors holds what was written to wsgi.errors during that request only", async () => {
  const client = new Client(logging);
  const [first, second] = await Promise.all([
    client.get("/uno"),
    client.get("/dos"),
  ]);
  assert.deepEqual(first.errors, ["visto /uno\n"]);
  assert.deepEqual(second.errors, ["visto /dos\n"]);
});

Deno.test("with options.errors, wsgi.errors goes to both that stream and errors", async () => {
  const { errors, lines: mine } = collector();
  const response = await new Client(logging, { errors }).get("/a");
  assert.deepEqual(response.errors, ["visto /a\n"]);
  assert.deepEqual(mine, ["visto /a\n"]);
});

Deno.test("a failing application is the gateway's 500: the generic text, and the rule in errors", async () => {
  const response = await new Client((_environ, startResponse) => {
    startResponse("OK", []);
    return ["never sent"];
  }).get("/roto");
  assert.equal(response.status, 500);
  assert.equal(
    response.text,
    "A server error occurred. Please contact the administrator.\n",
  );
  assert.equal(response.errors.length, 1);
  assert.match(
    response.errors[0],
    /^\[wsgi\] GET \/roto: the status "OK" must be three digits/,
  );
});

Deno.test("a body that breaks after it started is aborted: true, with what arrived before", async () => {
  const response = await new Client(async function* (_environ, startResponse) {
    startResponse("200 OK", [["Content-Type", "text/plain"]]);
    yield "antes ";
    await Promise.resolve();
    throw new Error("se cayó la base");
  }).get("/");
  assert.equal(response.aborted, true);
  assert.equal(response.status, 200);
  assert.equal(response.text, "antes ");
  assert.match(response.errors.join(""), /aborted after it had started/);
  assert.match(response.errors.join(""), /se cayó la base/);
});

Deno.test("deno.info.completed resolves once the body is read, and rejects when it was aborted", async () => {
  const completions: Promise<void>[] = [];
  const client = new Client(async function* (environ, startResponse) {
    completions.push((environ["deno.info"] as Deno.ServeHandlerInfo).completed);
    startResponse("200 OK", []);
    yield "parte";
    if (environ.PATH_INFO === "/rota") throw new Error("corte");
  });
  await client.get("/entera");
  await client.get("/rota");
  await completions[0];
  await assert.rejects(completions[1], Deno.errors.Interrupted);
});

Deno.test("a Request with no init reaches the application untouched", async () => {
  let seen: Environ | undefined;
  const request = new Request("http://example.org:8080/crudo?x=%41", {
    method: "POST",
    headers: { "X-Prueba": "sí" },
    body: "cuerpo",
  });
  const response = await new Client((environ, startResponse) => {
    seen = environ;
    startResponse("200 OK", []);
    return [];
  }).request(request);
  assert.equal(response.request, request);
  assert.equal(seen?.["deno.request"], request);
  assert.equal(seen?.HTTP_HOST, "example.org:8080");
  assert.equal(seen?.QUERY_STRING, "x=%41");
  assert.equal(seen?.HTTP_X_PRUEBA, "sí");
  assert.equal(seen?.CONTENT_LENGTH, undefined, "nothing was added");
});

Deno.test("a Request with init keeps its method, headers and body, and takes the query", async () => {
  const request = new Request("http://localhost/a?b=1", {
    method: "POST",
    headers: { "X-Prueba": "1" },
    body: "cuerpo",
  });
  const environ = await echoed((client) =>
    client.request(request, { query: { c: "2" } })
  );
  assert.equal(environ.REQUEST_METHOD, "POST");
  assert.equal(environ.QUERY_STRING, "b=1&c=2");
  assert.equal(environ.HTTP_X_PRUEBA, "1");
  assert.equal(environ.input, "cuerpo");
});

Deno.test("a Request's own body keeps its own headers, with a query too", async () => {
  const client = new Client(echoKey("CONTENT_LENGTH"));
  const post = (headers: HeadersInit) =>
    client.request(
      new Request("http://localhost/x", {
        method: "POST",
        body: "cuerpo",
        headers,
      }),
      { query: { c: "2" } },
    );
  assert.equal((await post({ "Content-Length": "6" })).text, "6");
  assert.equal((await post({})).text, "undefined");
});

Deno.test("a 302 comes back as it is, not followed", async () => {
  const client = new Client((_environ, startResponse) => {
    startResponse("302 Found", [["Location", "/otra"]]);
    return [];
  });
  const response = await client.get("/");
  assert.equal(response.status, 302);
  assert.equal(response.headers.get("location"), "/otra");
});

Deno.test("body and form together are a TypeError", async () => {
  const client = new Client(echoKey("PATH_INFO"));
  await assert.rejects(
    client.post("/", { body: "x", form: { a: "1" } }),
    TypeError,
  );
});

// ---------------------------------------------------------------------------
// The lesson's example, through the client
// ---------------------------------------------------------------------------

Deno.test("holamundo: GET / is the page, as UTF-8 HTML", async () => {
  const response = await new Client(holaMundoApp).get("/");
  assertLessonPage(response);
});

Deno.test("holamundo: /python-logo.png gives the same page, since the app answers only what it defines", async () => {
  const client = new Client(holaMundoApp);
  const [page, logo] = await Promise.all([
    client.get("/"),
    client.get("/python-logo.png"),
  ]);
  assert.equal(logo.status, 200);
  assert.equal(logo.headers.get("content-type"), "text/html; charset=utf-8");
  assert.equal(logo.text, page.text);
});
