/**
 * examples/site.ts, the toolbox used together, through the test client:
 * the page, the form and its cookie, the JSON API under /api, the static
 * files, and what goes wrong (bad forms, unknown paths).
 *
 * @module
 */

import assert from "node:assert/strict";
import { site } from "../examples/site.ts";
import { Client } from "../testing.ts";

const client = new Client(site);

Deno.test("site: the page has the form, the stylesheet and the logo; no cookie, no name", async () => {
  const response = await client.get("/");
  assert.equal(
    response.headers.get("content-type"),
    "text/html; charset=utf-8",
  );
  assert.match(response.text, /<form method="post" action="\/saludo">/);
  assert.match(response.text, /Hola, desconocido/);
  for (const asset of ["/static/estilo.css", "/static/python-logo.png"]) {
    assert.ok(response.text.includes(asset));
    assert.equal((await client.get(asset)).status, 200, asset);
  }
});

Deno.test("site: posting the form sets the cookie and redirects; the page then greets by name", async () => {
  const posted = await client.post("/saludo", {
    form: { nombre: "Ada Lovelace" },
  });
  assert.equal(posted.statusLine, "303 See Other");
  assert.equal(posted.headers.get("location"), "/");
  const [cookie] = posted.headers.getSetCookie();
  assert.equal(
    cookie,
    "nombre=Ada%20Lovelace; Path=/; Max-Age=2592000; HttpOnly; SameSite=Lax",
  );
  const page = await client.get("/", {
    headers: { Cookie: cookie.split(";")[0] },
  });
  assert.match(page.text, /Hola, Ada Lovelace/);
});

Deno.test("site: a name with markup is escaped; a cookie nobody encoded does not break the page", async () => {
  const posted = await client.post("/saludo", {
    form: { nombre: "<script>x</script>" },
  });
  const cookie = posted.headers.getSetCookie()[0].split(";")[0];
  const page = await client.get("/", { headers: { Cookie: cookie } });
  assert.match(page.text, /Hola, &#60;script&#62;x&#60;\/script&#62;/);
  const odd = await client.get("/", { headers: { Cookie: "nombre=%E9" } });
  assert.equal(odd.status, 200);
  assert.match(odd.text, /Hola, %E9/);
});

Deno.test("site: an empty name is a 400, a huge form a 413, JSON a 415", async () => {
  const empty = await client.post("/saludo", { form: { nombre: " " } });
  assert.equal(empty.statusLine, "400 Bad Request");
  assert.match(empty.text, /falta el nombre/);
  const huge = await client.post("/saludo", {
    form: { nombre: "x".repeat(5000) },
  });
  assert.equal(huge.status, 413);
  const json = await client.post("/saludo", { json: { nombre: "Ada" } });
  assert.equal(json.status, 415);
  for (const r of [empty, huge, json]) assert.equal(r.errors.length, 1);
});

Deno.test("site: the JSON API under /api is the fetch handler, seeing its own paths", async () => {
  const hora = await client.get("/api/hora");
  assert.equal(hora.headers.get("content-type"), "application/json");
  assert.ok(!Number.isNaN(Date.parse(hora.json<{ hora: string }>().hora)));
  const saludo = await client.get("/api/saludo?nombre=Grace");
  assert.deepEqual(saludo.json(), { saludo: "Hola, Grace" });
  const missing = await client.get("/api/nada");
  assert.equal(missing.statusLine, "404 Not Found");
  assert.deepEqual(missing.json(), { error: "no existe" });
});

Deno.test("site: static files with their type and Cache-Control; nothing outside public/", async () => {
  const css = await client.get("/static/estilo.css");
  assert.equal(css.headers.get("content-type"), "text/css; charset=utf-8");
  assert.equal(css.headers.get("cache-control"), "public, max-age=3600");
  assert.equal((await client.get("/static/..%2fsite.ts")).status, 404);
  assert.equal((await client.get("/static/nada.png")).status, 404);
});

Deno.test("site: unknown pages and methods are 404s", async () => {
  assert.equal((await client.get("/otra")).status, 404);
  assert.equal((await client.get("/saludo")).status, 404);
  assert.equal((await client.get("/apix")).status, 404);
});
