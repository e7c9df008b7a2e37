/**
 * The environ explorer (examples/environ.ts), through the fetch handler: it
 * lists every key, shows the body it read from wsgi.input, and escapes
 * everything that comes from the request.
 *
 * @module
 */

import assert from "node:assert/strict";
import { toFetchHandler } from "../mod.ts";
import { environApp } from "../examples/environ.ts";
import { connect, listen } from "./_helpers.ts";

const handler = toFetchHandler(environApp);

/** The page for a request, after checking it is UTF-8 HTML. */
async function page(path: string, init?: RequestInit): Promise<string> {
  const response = await handler(
    new Request(`http://localhost:8000${path}`, init),
  );
  assert.equal(response.status, 200);
  assert.equal(
    response.headers.get("content-type"),
    "text/html; charset=utf-8",
  );
  return await response.text();
}

/** The table row the explorer prints for one environ key. */
function row(key: string, shown: string): string {
  return `<tr><td><code>${key}</code></td><td><code>${shown}</code></td></tr>`;
}

Deno.test("the explorer lists the CGI, HTTP, wsgi and deno keys of a GET, grouped", async () => {
  const html = await page("/hola?nombre=Ada", {
    headers: { "Accept-Language": "es" },
  });
  for (
    const [key, shown] of [
      ["REQUEST_METHOD", "&quot;GET&quot;"],
      ["PATH_INFO", "&quot;/hola&quot;"],
      ["QUERY_STRING", "&quot;nombre=Ada&quot;"],
      ["SCRIPT_NAME", "&quot;&quot;"],
      ["SERVER_PORT", "&quot;8000&quot;"],
      ["HTTP_HOST", "&quot;localhost:8000&quot;"],
      ["HTTP_ACCEPT_LANGUAGE", "&quot;es&quot;"],
      ["wsgi.version", "[1,0]"],
      ["wsgi.url_scheme", "&quot;http&quot;"],
      ["wsgi.run_once", "false"],
      ["wsgi.input", "&lt;InputStream&gt;"],
      ["wsgi.errors", "&lt;ErrorStream&gt;"],
      ["deno.request", "&lt;Request&gt;"],
    ]
  ) assert.ok(html.includes(row(key, shown)), `row for ${key}`);
  const groups = [
    "Variables CGI",
    "Cabeceras HTTP",
    "Claves wsgi",
    "Claves del servidor deno",
  ].map((title) => html.indexOf(`<th colspan="2">${title}</th>`));
  assert.ok(groups.every((at) => at > 0), "every group has a heading");
  assert.deepEqual(groups, [...groups].sort((a, b) => a - b));
  assert.ok(!html.includes("CONTENT_LENGTH"), "a GET has no CONTENT_LENGTH");
  assert.ok(html.includes("<strong>0 bytes</strong>"));
  assert.ok(html.includes('<form method="post">'));
});

Deno.test("the explorer shows a POSTed form's body, its length and CONTENT_TYPE", async () => {
  const body = "nombre=Ada&mensaje=hola+%26+adi%C3%B3s";
  const html = await page("/", {
    method: "POST",
    headers: {
      "Content-Type": "application/x-www-form-urlencoded",
      "Content-Length": String(body.length),
    },
    body,
  });
  assert.ok(html.includes(row("REQUEST_METHOD", "&quot;POST&quot;")));
  assert.ok(
    html.includes(row(
      "CONTENT_TYPE",
      "&quot;application/x-www-form-urlencoded&quot;",
    )),
  );
  assert.ok(html.includes(row("CONTENT_LENGTH", "&quot;38&quot;")));
  assert.ok(html.includes("<strong>38 bytes</strong>"));
  assert.ok(
    html.includes("<pre>nombre=Ada&amp;mensaje=hola+%26+adi%C3%B3s</pre>"),
  );
});

Deno.test("the explorer counts the body in bytes, not characters", async () => {
  const html = await page("/", { method: "POST", body: "adiós" });
  assert.ok(html.includes("<strong>6 bytes</strong>"));
  assert.ok(html.includes("<pre>adiós</pre>"));
});

const ATTACK = "<script>alert('x')</script>";
const ESCAPED = "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;";

Deno.test("the explorer escapes <script> in a header, the path and the body", async () => {
  const html = await page(`/${ATTACK}`, {
    method: "POST",
    headers: { "X-Attack": `"${ATTACK}` },
    body: ATTACK,
  });
  assert.ok(!html.includes("<script"), "no script tag gets through");
  assert.ok(html.includes(`<pre>${ESCAPED}</pre>`), "the body");
  assert.ok(
    html.includes(row("HTTP_X_ATTACK", `&quot;\\&quot;${ESCAPED}&quot;`)),
    "the header, quote included",
  );
  assert.ok(
    html.includes(row("PATH_INFO", `&quot;/${ESCAPED}&quot;`)),
    "the decoded path",
  );
});

Deno.test("the explorer escapes a raw <script> request target sent on the wire", async () => {
  // fetch percent-encodes < and > in a URL; a raw client need not, and
  // REQUEST_URI keeps the target exactly as it came.
  await using server = listen(environApp);
  const conn = await connect(server.port);
  await conn.write(new TextEncoder().encode(
    `GET /${ATTACK}?q=${ATTACK} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
  ));
  const html = await new Response(conn.readable).text();
  assert.match(html, /^HTTP\/1\.1 200 /);
  assert.ok(!html.includes("<script"), "no script tag gets through");
  assert.ok(
    html.includes(row("REQUEST_URI", `&quot;/${ESCAPED}?q=${ESCAPED}&quot;`)),
  );
  assert.ok(html.includes(row("QUERY_STRING", `&quot;q=${ESCAPED}&quot;`)));
  assert.ok(html.includes(row("deno.info", "&lt;Deno.ServeHandlerInfo&gt;")));
  assert.ok(html.includes(row("REMOTE_ADDR", "&quot;127.0.0.1&quot;")));
});

Deno.test("the explorer shows keys a middleware added, under other keys", async () => {
  const withExtra = toFetchHandler((environ, startResponse) => {
    environ["myapp.user"] = "<b>ada</b>";
    return environApp(environ, startResponse);
  });
  const response = await withExtra(new Request("http://localhost/"));
  const html = await response.text();
  assert.ok(
    html.indexOf("Otras claves") > html.indexOf("Claves del servidor deno"),
  );
  assert.ok(
    html.includes(row("myapp.user", "&quot;&lt;b&gt;ada&lt;/b&gt;&quot;")),
  );
});

Deno.test("the explorer: the form's defaults and labels are the handout's", async () => {
  const html = await page("/");
  for (
    const promised of [
      'name="nombre" value="Ada"',
      'value="hola &amp; adiós"',
      "Enviar (POST)",
      "Cuerpo leído de wsgi.input",
    ]
  ) assert.ok(html.includes(promised), `the page has ${promised}`);
});

Deno.test("the explorer shows functions by type, never as their source", async () => {
  const html = await page("/");
  assert.ok(html.includes(row("wsgi.file_wrapper", "&lt;FileWrapper&gt;")));
  assert.doesNotMatch(html, /=&gt;|function \(|\{\s*return/);
});
