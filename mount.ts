/**
 * Several applications behind one, chosen by the start of the path (and,
 * if asked, by the host): Werkzeug's `DispatcherMiddleware`, Rack's
 * `URLMap`.
 *
 * The application mounted at a prefix sees that prefix moved from
 * `PATH_INFO` to the end of `SCRIPT_NAME`, as a WSGI application mounted by
 * a server would; so `requestUri` and `applicationUri` from
 * `@denowsgi/wsgi/util` still rebuild the URL the client asked for, and
 * links the application builds from `SCRIPT_NAME` point under its prefix.
 *
 * @example A site, an API and static files under one server
 * ```ts
 * import { type Application, serve } from "@denowsgi/wsgi";
 * import { mount } from "@denowsgi/wsgi/mount";
 * import { serveDir } from "@denowsgi/wsgi/static";
 *
 * const site: Application = (_environ, startResponse) => {
 *   startResponse("200 OK", [["Content-Type", "text/plain"]]);
 *   return ["la portada\n"];
 * };
 * const api: Application = (environ, startResponse) => {
 *   startResponse("200 OK", [["Content-Type", "application/json"]]);
 *   return [JSON.stringify({ path: environ.PATH_INFO })];
 * };
 * const app = mount({
 *   "/": site,
 *   "/api": api, // GET /api/users → PATH_INFO "/users", SCRIPT_NAME "/api"
 *   "/static": serveDir("public"),
 * });
 *
 * serve(app, { hostname: "localhost", port: 8000 });
 * ```
 *
 * @module
 */

import type { Application, Environ, StartResponse } from "./types.ts";

/**
 * Options for {@linkcode mount}.
 *
 * @example
 * ```ts
 * import type { MountOptions } from "@denowsgi/wsgi/mount";
 *
 * const options: MountOptions = {
 *   fallback: (_environ, startResponse) => {
 *     startResponse("404 Not Found", [["Content-Type", "text/plain"]]);
 *     return ["¿Perdido?\n"];
 *   },
 * };
 * ```
 */
export interface MountOptions {
  /**
   * Called, with the environ untouched, when no prefix matches; by default
   * a plain-text `404 Not Found`.
   */
  fallback?: Application;
}

interface Entry {
  host?: string;
  prefix: string;
  app: Application;
}

/**
 * Dispatches each request to the application mounted at the longest prefix
 * of its `PATH_INFO`. A prefix matches only at a segment boundary: `/api`
 * takes `/api` and `/api/users`, never `/apix`. The chosen application sees
 * `SCRIPT_NAME` grown by the prefix and `PATH_INFO` holding the rest (`""`
 * for the prefix itself, as in Werkzeug). `"/"` (or `""`) mounts at the
 * root, which takes whatever no longer prefix took.
 *
 * A key may name a host before its path, `"api.example.com/v1"` or
 * `"api.example.com"` (its root): it matches only requests whose Host
 * header (port included, if the key has one) is that host, compared
 * without case. For the same prefix, a host's entry wins over one for any
 * host; otherwise the longer prefix wins.
 *
 * The environ is changed in place, as `shiftPathInfo` does; copy it first
 * to keep the original. Prefixes are compared with `PATH_INFO`, which is
 * already percent-decoded.
 *
 * @example
 * ```ts
 * import { mount } from "@denowsgi/wsgi/mount";
 * import { Client } from "@denowsgi/wsgi/testing";
 *
 * const app = mount({
 *   "/api": (environ, startResponse) => {
 *     startResponse("200 OK", [["Content-Type", "text/plain"]]);
 *     return [`${environ.SCRIPT_NAME} | ${environ.PATH_INFO}`];
 *   },
 * });
 * const client = new Client(app);
 * (await client.get("/api/users")).text; // "/api | /users"
 * (await client.get("/apix")).status; // 404
 * ```
 */
export function mount(
  apps: Record<string, Application>,
  options: MountOptions = {},
): Application {
  const entries = Object.entries(apps).map(([key, app]) => entry(key, app));
  // Longest prefix first; for equal prefixes, a named host first.
  entries.sort((a, b) =>
    b.prefix.length - a.prefix.length ||
    Number(b.host !== undefined) - Number(a.host !== undefined)
  );
  const fallback = options.fallback ?? notFound;
  return (environ, startResponse) => {
    const path = environ.PATH_INFO;
    const host = environ.HTTP_HOST?.toLowerCase();
    for (const { host: wanted, prefix, app } of entries) {
      if (
        wanted !== undefined && wanted !== host && wanted !== hostOnly(host)
      ) {
        continue;
      }
      if (
        path === prefix ||
        path.startsWith(prefix) && path[prefix.length] === "/"
      ) {
        environ.SCRIPT_NAME += prefix;
        environ.PATH_INFO = path.slice(prefix.length);
        return app(environ, startResponse);
      }
    }
    return fallback(environ, startResponse);
  };
}

/** `"host/path/"` → its host (if any) and its prefix, without the final `/`. */
function entry(key: string, app: Application): Entry {
  if (typeof app !== "function") {
    throw new TypeError(`mount: the application at ${key} is not a function`);
  }
  const slash = key.indexOf("/");
  const host = slash === 0
    ? undefined
    : key.slice(0, slash === -1 ? undefined : slash);
  let prefix = slash === -1 ? "" : key.slice(slash);
  while (prefix.endsWith("/")) prefix = prefix.slice(0, -1);
  if (host === "") throw new TypeError(`mount: ${key} names an empty host`);
  return { host: host?.toLowerCase(), prefix, app };
}

/** `example.com:8000` → `example.com`, so a key without a port matches. */
function hostOnly(host: string | undefined): string | undefined {
  return host?.replace(/:\d*$/, "");
}

/**
 * A plain-text `404 Not Found` naming the path: what {@linkcode mount}
 * answers when no prefix matches, and what the static files app answers
 * for a file it will not serve.
 *
 * @example
 * ```ts
 * import { notFound } from "@denowsgi/wsgi/mount";
 * import { Client } from "@denowsgi/wsgi/testing";
 *
 * (await new Client(notFound).get("/nada")).statusLine; // "404 Not Found"
 * ```
 */
export function notFound(
  environ: Environ,
  startResponse: StartResponse,
): string[] {
  startResponse("404 Not Found", [[
    "Content-Type",
    "text/plain; charset=utf-8",
  ]]);
  return [`Not Found: ${environ.SCRIPT_NAME}${environ.PATH_INFO}\n`];
}
