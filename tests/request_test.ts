/**
 * request.ts: the query, forms (urlencoded and multipart, bounded), cookies
 * in and out, and the RequestError an app turns into its 4xx. Through the
 * public test client.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { Application } from "../mod.ts";
import {
  dumpCookie,
  parseCookies,
  parseQs,
  query,
  readForm,
  RequestError,
} from "../request.ts";
import { Client } from "../testing.ts";

Deno.test("parseQs: repeated keys kept in order, + and escapes decoded, blanks left out unless asked", () => {
  assert.deepEqual(
    { ...parseQs("tag=a&tag=b&q=caf%C3%A9+bar&empty=&bare") },
    { tag: ["a", "b"], q: ["café bar"] },
  );
  assert.deepEqual(
    { ...parseQs("empty=&bare&x=1", { keepBlankValues: true }) },
    { empty: [""], bare: [""], x: ["1"] },
  );
  assert.deepEqual({ ...parseQs("bad=%E9%zz") }, { bad: ["\ufffd%zz"] });
  assert.deepEqual({ ...parseQs("") }, {});
});

Deno.test("parseQs: __proto__ and constructor are only keys", () => {
  const parsed = parseQs("__proto__=x&constructor=y");
  assert.equal(Object.getPrototypeOf(parsed), null);
  assert.deepEqual(parsed.__proto__, ["x"]);
  assert.deepEqual(parsed.constructor, ["y"]);
});

Deno.test("query: the request's QUERY_STRING", async () => {
  const client = new Client((environ, startResponse) => {
    startResponse("200 OK", [["Content-Type", "application/json"]]);
    return [JSON.stringify(query(environ))];
  });
  const response = await client.get("/?a=1&a=2&b=%C3%B1");
  assert.deepEqual(response.json(), { a: ["1", "2"], b: ["ñ"] });
});

/** Reads the form and answers its entries as JSON; a RequestError as its 4xx. */
function formEcho(maxBytes?: number): Application {
  return async (environ, startResponse) => {
    let form: FormData;
    try {
      form = await readForm(environ, { maxBytes });
    } catch (error) {
      if (error instanceof RequestError) {
        return error.respond(environ, startResponse);
      }
      throw error;
    }
    const entries = [];
    for (const [key, value] of form) {
      entries.push([
        key,
        typeof value === "string"
          ? value
          : `${value.name} ${value.type} ${await value.text()}`,
      ]);
    }
    startResponse("200 OK", [["Content-Type", "application/json"]]);
    return [JSON.stringify(entries)];
  };
}

Deno.test("readForm: an urlencoded form, repeated fields and UTF-8 kept", async () => {
  const response = await new Client(formEcho()).post("/", {
    form: new URLSearchParams([["n", "Ada"], ["n", "Grace"], [
      "m",
      "¡hola & adiós!",
    ]]),
  });
  assert.deepEqual(response.json(), [["n", "Ada"], ["n", "Grace"], [
    "m",
    "¡hola & adiós!",
  ]]);
});

Deno.test("readForm: multipart/form-data with a file", async () => {
  const body = new FormData();
  body.set("nombre", "Ada");
  body.set("foto", new File(["contenido"], "ada.txt", { type: "text/plain" }));
  const response = await new Client(formEcho()).post("/", { body });
  assert.equal(response.status, 200, response.text);
  assert.deepEqual(response.json(), [
    ["nombre", "Ada"],
    ["foto", "ada.txt text/plain contenido"],
  ]);
});

Deno.test("readForm: no body and no type is an empty form", async () => {
  const response = await new Client(formEcho()).get("/");
  assert.deepEqual(response.json(), []);
});

Deno.test("readForm: larger than maxBytes by Content-Length → 413 and one log line", async () => {
  const response = await new Client(formEcho(10)).post("/subir", {
    form: { texto: "x".repeat(50) },
  });
  assert.equal(response.statusLine, "413 Content Too Large");
  assert.match(response.text, /larger than 10 bytes/);
  assert.equal(response.errors.length, 1);
  assert.match(
    response.errors[0],
    /^\[wsgi\] POST \/subir: 413 Content Too Large: /,
  );
});

Deno.test("readForm: a chunked body that grows past maxBytes → 413", async () => {
  const chunks = ["texto=", "x".repeat(40), "y".repeat(40)];
  const body = new ReadableStream({
    pull(controller) {
      const next = chunks.shift();
      if (next === undefined) controller.close();
      else controller.enqueue(new TextEncoder().encode(next));
    },
  });
  const response = await new Client(formEcho(64)).post("/", {
    body,
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
  });
  assert.equal(response.status, 413);
});

Deno.test("readForm: a malformed multipart body → 400", async () => {
  for (
    const [type, body] of [
      ["multipart/form-data", "no boundary"],
      ["multipart/form-data; boundary=X", "garbage"],
      [
        "multipart/form-data; boundary=X",
        '--X\r\nContent-Disposition: form-data; name="a"\r\n\r\ncut short',
      ],
    ]
  ) {
    const response = await new Client(formEcho()).post("/", {
      body,
      headers: { "Content-Type": type },
    });
    assert.equal(response.statusLine, "400 Bad Request", type);
    assert.match(response.text, /could not be parsed|closing boundary/);
  }
});

Deno.test("readForm: another Content-Type → 415", async () => {
  const response = await new Client(formEcho()).post("/", { json: { a: 1 } });
  assert.equal(response.statusLine, "415 Unsupported Media Type");
});

Deno.test("RequestError: uncaught, it is an application error, a 500", async () => {
  const response = await new Client(async (environ) => {
    await readForm(environ, { maxBytes: 1 });
    return [];
  }).post("/", { form: { a: "bb" } });
  assert.equal(response.status, 500);
});

Deno.test("parseCookies: pairs from HTTP_COOKIE; quotes removed; the first of a name wins; no prototype", async () => {
  const client = new Client((environ, startResponse) => {
    const cookies = parseCookies(environ);
    assert.equal(Object.getPrototypeOf(cookies), null);
    startResponse("200 OK", [["Content-Type", "application/json"]]);
    return [JSON.stringify(cookies)];
  });
  const response = await client.get("/", {
    headers: {
      Cookie: 'a=1; b="dos"; a=otro; junk; =x; c=%C3%B1; __proto__=p',
    },
  });
  assert.deepEqual(
    response.json(),
    JSON.parse('{"a":"1","b":"dos","c":"%C3%B1","__proto__":"p"}'),
  );
  assert.deepEqual(await (await client.get("/")).json(), {});
});

Deno.test("dumpCookie: every attribute, in order", () => {
  assert.equal(
    dumpCookie("sesion", "abc", {
      path: "/",
      domain: "example.com",
      maxAge: 3600,
      expires: new Date(Date.UTC(2030, 0, 2, 3, 4, 5)),
      secure: true,
      httpOnly: true,
      sameSite: "None",
    }),
    "sesion=abc; Path=/; Domain=example.com; Max-Age=3600; Expires=Wed, 02 Jan 2030 03:04:05 GMT; Secure; HttpOnly; SameSite=None",
  );
  assert.equal(dumpCookie("a", ""), "a=");
});

Deno.test("dumpCookie: refuses what would break the header or add attributes", () => {
  const cases: [string, string, Parameters<typeof dumpCookie>[2]][] = [
    ["bad name", "x", {}],
    ["a=b", "x", {}],
    ["", "x", {}],
    ["a", "x; Domain=evil.example", {}],
    ["a", "x\r\nSet-Cookie: b=1", {}],
    ["a", "dos palabras", {}],
    ["a", "ñ", {}],
    ["a", 'comillas"', {}],
    ["a", "x", { path: "/; Secure" }],
    ["a", "x", { domain: "a.example\n" }],
    ["a", "x", { maxAge: 1.5 }],
    ["a", "x", { expires: new Date("nope") }],
    ["a", "x", { sameSite: "None" }],
    ["a", "x", { sameSite: "Sometimes" as "Lax" }],
  ];
  for (const [name, value, options] of cases) {
    assert.throws(
      () => dumpCookie(name, value, options),
      TypeError,
      JSON.stringify([name, value, options]),
    );
  }
});

Deno.test("dumpCookie: a cookie set and read back through the client", async () => {
  const client = new Client((environ, startResponse) => {
    const visits = Number(parseCookies(environ).visitas ?? "0") + 1;
    startResponse("200 OK", [
      ["Content-Type", "text/plain"],
      ["Set-Cookie", dumpCookie("visitas", String(visits), { path: "/" })],
    ]);
    return [`visita ${visits}`];
  });
  const first = await client.get("/");
  const [cookie] = first.headers.getSetCookie();
  assert.equal(cookie, "visitas=1; Path=/");
  const second = await client.get("/", {
    headers: { Cookie: cookie.split(";")[0] },
  });
  assert.equal(second.text, "visita 2");
});
