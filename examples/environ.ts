/**
 * An environ explorer: a page that lists every key and value of the environ
 * the server built for your request, grouped and explained, with a form that
 * posts to the same page so you can watch `wsgi.input` being read.
 *
 * Run it with `deno run --allow-net examples/environ.ts` and open
 * http://localhost:8000.
 *
 * @module
 */
import { type Application, type Environ, makeServer } from "@denowsgi/wsgi";
import { listenOrExit } from "./holamundo.ts";

/** The environ's keys in the order a learner meets them, one line each. */
const GROUPS: {
  title: string;
  note: string;
  test: (key: string) => boolean;
}[] = [
  {
    title: "Variables CGI",
    note:
      "Lo que el servidor sabe de la petición y de sí mismo: método, ruta, consulta, direcciones. Los nombres vienen de CGI.",
    test: (key) => /^[A-Z_]+$/.test(key) && !key.startsWith("HTTP_"),
  },
  {
    title: "Cabeceras HTTP",
    note:
      "Cada cabecera que envió el cliente, en mayúsculas, con _ en lugar de - y el prefijo HTTP_ (Content-Type y Content-Length van arriba, sin prefijo).",
    test: (key) => key.startsWith("HTTP_"),
  },
  {
    title: "Claves wsgi",
    note:
      "Las de PEP 3333: las que exige (la versión, el esquema, el cuerpo de la petición en wsgi.input, dónde escribir errores en wsgi.errors, y wsgi.multithread, wsgi.multiprocess y wsgi.run_once) y dos opcionales que este servidor da (wsgi.file_wrapper y wsgi.input_terminated).",
    test: (key) => key.startsWith("wsgi."),
  },
  {
    title: "Claves del servidor deno",
    note:
      "Extras de este servidor, con su propio prefijo como pide PEP 3333: la Request original y los datos de la conexión.",
    test: (key) => key.startsWith("deno."),
  },
  {
    title: "Otras claves",
    note: "Las que añadió un middleware o la propia aplicación.",
    test: () => true,
  },
];

/** Objects have no useful text: name them by the contract's type instead. */
const KINDS: Record<string, string> = {
  "wsgi.input": "InputStream",
  "wsgi.errors": "ErrorStream",
  "wsgi.file_wrapper": "FileWrapper",
  "deno.info": "Deno.ServeHandlerInfo",
};

/**
 * Strings in quotes, numbers and booleans bare, as JSON: the learner sees
 * that SERVER_PORT is the text "8000" while wsgi.run_once is a boolean.
 */
function show(key: string, value: unknown): string {
  // A function's text would be its source code: name it too.
  if (typeof value === "function") return `<${KINDS[key] ?? "function"}>`;
  if (typeof value === "object" && value !== null && !Array.isArray(value)) {
    return `<${KINDS[key] ?? value.constructor?.name ?? "Object"}>`;
  }
  return JSON.stringify(value) ?? String(value);
}

const ENTITIES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

/** Everything from the request goes through here: headers, path and body. */
function escape(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ENTITIES[c]);
}

function environTable(environ: Environ): string {
  const left = new Set(Object.keys(environ).sort());
  return GROUPS.map(({ title, note, test }) => {
    const keys = [...left].filter(test);
    if (keys.length === 0) return "";
    for (const key of keys) left.delete(key);
    const rows = keys.map((key) =>
      `<tr><td><code>${escape(key)}</code></td><td><code>${
        escape(show(key, environ[key]))
      }</code></td></tr>`
    );
    return `<tbody><tr><th colspan="2">${title}</th></tr>
<tr><td colspan="2" class="note">${note}</td></tr>
${rows.join("\n")}</tbody>`;
  }).join("\n");
}

/**
 * The explorer as a WSGI application. It is async because it reads the whole
 * request body from `wsgi.input` before it answers.
 *
 * @example
 * ```ts
 * import { toFetchHandler } from "@denowsgi/wsgi";
 * import { environApp } from "./environ.ts";
 *
 * const response = await toFetchHandler(environApp)(
 *   new Request("http://localhost:8000/", { method: "POST", body: "nombre=Ada" }),
 * );
 * console.log(await response.text()); // "…<pre>nombre=Ada</pre>…"
 * ```
 */
export const environApp: Application = async (
  environ,
  startResponse,
): Promise<string[]> => {
  const body = await environ["wsgi.input"].read();
  const text = new TextDecoder().decode(body);
  startResponse("200 OK", [["Content-Type", "text/html; charset=utf-8"]]);
  return [`<!doctype html>
<html lang="es">
<head>
<meta charset="utf-8">
<title>Explorador del environ</title>
<style>
  body { font-family: sans-serif; max-width: 60rem; margin: 2rem auto; }
  table { border-collapse: collapse; width: 100%; }
  td, th { border: 1px solid #ccc; padding: .25rem .5rem; text-align: left; vertical-align: top; }
  th { background: #eef; }
  td:first-child { white-space: nowrap; }
  td { word-break: break-all; }
  td.note { color: #555; font-style: italic; word-break: normal; white-space: normal; }
  pre { background: #f4f4f4; padding: .5rem; white-space: pre-wrap; }
</style>
</head>
<body>
<h1>Explorador del environ</h1>
<p>Esta página es una aplicación WSGI. Para tu petición
<code>${escape(environ.REQUEST_METHOD)} ${escape(environ.REQUEST_URI)}</code>
el servidor construyó el <code>environ</code> de abajo y llamó a la aplicación con él.</p>

<h2>Envía un formulario</h2>
<form method="post">
<label>Nombre <input name="nombre" value="Ada"></label>
<label>Mensaje <input name="mensaje" value="hola &amp; adiós"></label>
<button>Enviar (POST)</button>
</form>

<h2>Cuerpo leído de wsgi.input</h2>
<p><code>await environ["wsgi.input"].read()</code> devolvió
<strong>${body.byteLength} bytes</strong>${
    body.byteLength === 0 ? " (la petición no trae cuerpo)." : ":"
  }</p>
${body.byteLength === 0 ? "" : `<pre>${escape(text)}</pre>`}

<h2>El environ</h2>
<table>
<thead><tr><th>Clave</th><th>Valor</th></tr></thead>
${environTable(environ)}
</table>
</body>
</html>
`];
};

if (import.meta.main) {
  const port = 8000;
  const host = "localhost";
  await using httpd = listenOrExit(
    port,
    () => makeServer(host, port, environApp),
  );
  console.log(
    `Escuchando en ${host}:${port}... [Presiona Ctrl+C para terminar!]`,
  );
  await httpd.serveForever();
}
