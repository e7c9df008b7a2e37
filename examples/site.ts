/**
 * The app a student writes after the lesson: a page with a form, a cookie
 * that remembers a name, a JSON API under `/api` (a plain fetch handler,
 * mounted with `fromFetchHandler`), and static files under `/static`.
 *
 * Run it with `deno run --allow-net --allow-read examples/site.ts`, then
 * open http://localhost:8000/ and http://localhost:8000/api/hora.
 *
 * @module
 */
import { type Application, serve } from "@denowsgi/wsgi";
import { fromFetchHandler } from "@denowsgi/wsgi/fetch";
import { mount, notFound } from "@denowsgi/wsgi/mount";
import {
  dumpCookie,
  parseCookies,
  readForm,
  RequestError,
} from "@denowsgi/wsgi/request";
import { serveDir } from "@denowsgi/wsgi/static";
import { listenOrExit } from "./holamundo.ts";

/** The page: who we are talking to, from the cookie, and the form. */
const pagina: Application = (environ, startResponse) => {
  const nombre = decoded(parseCookies(environ).nombre ?? "");
  startResponse("200 OK", [["Content-Type", "text/html; charset=utf-8"]]);
  return [`<!doctype html>
<html>
  <head><link rel="stylesheet" href="/static/estilo.css"></head>
  <body>
    <h1><img src="/static/python-logo.png" alt=""> Hola, ${
    escapeHtml(nombre || "desconocido")
  }</h1>
    <form method="post" action="/saludo">
      <input name="nombre" placeholder="Tu nombre" required>
      <button>Guardar</button>
    </form>
    <p>La API: <a href="/api/hora">/api/hora</a></p>
  </body>
</html>
`];
};

/** The form's target: keeps the name in a cookie, then back to the page. */
const saludo: Application = async (environ, startResponse) => {
  let nombre: string;
  try {
    const form = await readForm(environ, { maxBytes: 4096 });
    nombre = String(form.get("nombre") ?? "").trim();
    if (nombre === "") throw new RequestError(400, "falta el nombre");
  } catch (error) {
    if (error instanceof RequestError) {
      return error.respond(environ, startResponse);
    }
    throw error;
  }
  startResponse("303 See Other", [
    ["Location", "/"],
    [
      "Set-Cookie",
      dumpCookie("nombre", encodeURIComponent(nombre), {
        path: "/",
        maxAge: 30 * 24 * 3600,
        httpOnly: true,
        sameSite: "Lax",
      }),
    ],
  ]);
  return [];
};

/** The pages of the site, by path and method. */
const paginas: Application = (environ, startResponse) => {
  const route = `${environ.REQUEST_METHOD} ${environ.PATH_INFO}`;
  if (route === "GET /" || route === "HEAD /") {
    return pagina(environ, startResponse);
  }
  if (route === "POST /saludo") return saludo(environ, startResponse);
  return notFound(environ, startResponse);
};

/** The JSON API: a plain fetch handler, as one would write for Deno.serve. */
export function api(request: Request): Response {
  const url = new URL(request.url);
  if (url.pathname === "/hora") {
    return Response.json({ hora: new Date().toISOString() });
  }
  if (url.pathname === "/saludo") {
    const nombre = url.searchParams.get("nombre") ?? "mundo";
    return Response.json({ saludo: `Hola, ${nombre}` });
  }
  return Response.json({ error: "no existe" }, { status: 404 });
}

export const site: Application = mount({
  "/": paginas,
  "/api": fromFetchHandler(api),
  "/static": serveDir(new URL("./public/", import.meta.url), {
    cacheControl: "public, max-age=3600",
  }),
});

/** The cookie as we encoded it; a value someone else wrote stays as it is. */
function decoded(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

if (import.meta.main) {
  const port = 8000;
  const host = "localhost";
  const httpd = listenOrExit(port, () =>
    serve(site, {
      hostname: host,
      port,
      accessLog: true,
      onListen() {
        console.log(
          `Escuchando en http://${host}:${port}/ [Ctrl+C para terminar]`,
        );
      },
    }));
  await httpd.finished;
}
