/**
 * Static files: {@linkcode serveDir} is an application that serves a
 * directory, as Deno's `serveDir`, and {@linkcode sharedData} a middleware
 * that serves directories beside an application, as Werkzeug's
 * `SharedDataMiddleware`.
 *
 * What a browser and a cache expect is there: a content type by extension
 * (text types in UTF-8), `ETag` and `Last-Modified`, `If-None-Match` and
 * `If-Modified-Since` answered with `304 Not Modified`, one `Range` answered
 * with `206 Partial Content` (`If-Range` honoured; an unsatisfiable range
 * is a `416`), HEAD, and the `Cache-Control` you choose. The file streams
 * through `wsgi.file_wrapper` and is closed however the response ends.
 *
 * A path is served only from inside the directory: a `..`, `.` or empty
 * segment, a backslash, a NUL, a drive letter, a symlink that leads out of
 * the directory, and (unless allowed) a name starting with a dot are all
 * answered `404 Not Found` without touching the file system beyond the
 * check. `PATH_INFO` is already percent-decoded by the gateway, so `%2e%2e`
 * and `%2f` arrive here as `..` and `/`; nothing is decoded twice.
 *
 * @example The lesson's app, with its logo served beside it
 * ```ts
 * import { type Application, serve } from "@denowsgi/wsgi";
 * import { sharedData } from "@denowsgi/wsgi/static";
 *
 * const page: Application = (_environ, startResponse) => {
 *   startResponse("200 OK", [["Content-Type", "text/html; charset=utf-8"]]);
 *   return ['<img src="/static/python-logo.png">'];
 * };
 * const app = sharedData(page, { "/static": "examples" });
 *
 * serve(app, { hostname: "localhost", port: 8000 });
 * ```
 *
 * @module
 */

import type {
  Application,
  Body,
  Environ,
  FileWrapper,
  Header,
  StartResponse,
} from "./types.ts";
import { fileWrapper } from "./gateway/file_wrapper.ts";
import { mount, notFound } from "./mount.ts";
import { requestUri } from "./util.ts";

/**
 * Options for {@linkcode serveDir} and {@linkcode sharedData}.
 *
 * @example
 * ```ts
 * import type { StaticOptions } from "@denowsgi/wsgi/static";
 *
 * const options: StaticOptions = {
 *   cacheControl: "public, max-age=3600",
 *   index: "index.html",
 *   contentTypes: { ".gltf": "model/gltf+json" },
 * };
 * ```
 */
export interface StaticOptions {
  /** Sent as `Cache-Control` with every file; none by default. */
  cacheControl?: string;
  /** Serve names starting with `.` (`.well-known/…`); `false` by default. */
  dotfiles?: boolean;
  /**
   * The file served for a directory asked with a final `/`; a directory
   * asked without it is redirected there first. `false` (the default)
   * serves no directory.
   */
  index?: string | false;
  /** Extra content types by extension (`".ext"`), over the built-in ones. */
  contentTypes?: Record<string, string>;
  /**
   * Called for a path that is allowed but holds no file, instead of the
   * 404; what {@linkcode sharedData} uses to fall through to its app.
   */
  fallback?: Application;
}

/**
 * An application serving the files under `root` (a path, relative to the
 * working directory, or a `file:` URL) at its `PATH_INFO`. Mount it under
 * a prefix with `mount` to serve `/static/logo.png` from `root/logo.png`.
 * Methods other than GET and HEAD get `405 Method Not Allowed`.
 *
 * @example
 * ```ts
 * import { mount } from "@denowsgi/wsgi/mount";
 * import { serveDir } from "@denowsgi/wsgi/static";
 * import { Client } from "@denowsgi/wsgi/testing";
 *
 * const app = mount({ "/static": serveDir("examples", { cacheControl: "no-cache" }) });
 * const response = await new Client(app).get("/static/python-logo.png");
 * response.headers.get("content-type"); // "image/png"
 * ```
 */
export function serveDir(
  root: string | URL,
  options: StaticOptions = {},
): Application {
  let realRoot: Promise<string> | undefined;
  return async (environ, startResponse) => {
    const method = environ.REQUEST_METHOD;
    if (method !== "GET" && method !== "HEAD") {
      startResponse("405 Method Not Allowed", [
        ["Allow", "GET, HEAD"],
        ["Content-Type", "text/plain; charset=utf-8"],
      ]);
      return ["Method Not Allowed\n"];
    }
    const segments = allowed(environ.PATH_INFO, options.dotfiles ?? false);
    if (segments === undefined) return notFound(environ, startResponse);
    realRoot ??= Deno.realPath(root).catch((error) => {
      realRoot = undefined;
      throw error;
    });
    const found = await find(await realRoot, segments, options);
    if (found === "outside") return notFound(environ, startResponse);
    if (found === "directory") return addSlash(environ, startResponse);
    if (found === "missing") {
      return (options.fallback ?? notFound)(environ, startResponse);
    }
    return await sendFile(environ, startResponse, found, options);
  };
}

/**
 * Middleware: requests under each prefix of `exports` are served from its
 * directory, as {@linkcode serveDir} does; every other request, and one for
 * a file that does not exist, goes to `app` with its environ as it came.
 *
 * @example
 * ```ts
 * import { sharedData } from "@denowsgi/wsgi/static";
 * import { holaMundoApp } from "./examples/holamundo.ts";
 *
 * export const app = sharedData(holaMundoApp, { "/static": "examples" });
 * ```
 */
export function sharedData(
  app: Application,
  exports: Record<string, string | URL>,
  options: StaticOptions = {},
): Application {
  const apps: Record<string, Application> = { "/": app };
  for (const [key, root] of Object.entries(exports)) {
    const prefix = key.replace(/\/+$/, "");
    // Gives back what mount moved, so the app sees the request untouched.
    const fallback: Application = (environ, startResponse) => {
      environ.SCRIPT_NAME = environ.SCRIPT_NAME.slice(
        0,
        environ.SCRIPT_NAME.length - prefix.length,
      );
      environ.PATH_INFO = prefix + environ.PATH_INFO;
      return app(environ, startResponse);
    };
    apps[prefix || "/"] = serveDir(root, { ...options, fallback });
  }
  return mount(apps);
}

/**
 * The path's segments, or `undefined` for a path that must not be served.
 * A final empty segment (`/docs/`) asks for a directory.
 */
function allowed(path: string, dotfiles: boolean): string[] | undefined {
  if (path !== "" && !path.startsWith("/")) return undefined;
  const segments = path.split("/").slice(1);
  for (const [i, segment] of segments.entries()) {
    const last = i === segments.length - 1;
    if (segment === "" && !last) return undefined; // "//": an absolute path
    if (segment === "." || segment === "..") return undefined;
    if (/[\\\0]|^[A-Za-z]:/.test(segment)) return undefined;
    if (!dotfiles && segment.startsWith(".")) return undefined;
  }
  return segments;
}

type Found = "outside" | "directory" | "missing" | string;

/**
 * Where the segments lead, once symlinks are followed: a file's real path,
 * a directory asked without its final `/`, nothing, or out of the root.
 */
async function find(
  root: string,
  segments: string[],
  options: StaticOptions,
): Promise<Found> {
  let real: string;
  let info: Deno.FileInfo;
  try {
    real = await Deno.realPath([root, ...segments].join("/"));
    info = await Deno.stat(real);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return "missing";
    if (error instanceof Deno.errors.NotADirectory) return "missing";
    if (error instanceof Deno.errors.FilesystemLoop) return "outside";
    throw error;
  }
  if (real !== root && !real.startsWith(root + "/")) return "outside";
  // A link inside the root may still lead to a dotfile.
  const inside = real.slice(root.length);
  if (allowed(inside, options.dotfiles ?? false) === undefined) {
    return "outside";
  }
  if (info.isDirectory) return directory(real, segments, options);
  return info.isFile ? real : "missing";
}

function directory(
  real: string,
  segments: string[],
  options: StaticOptions,
): Promise<Found> | Found {
  if (!options.index) return "missing";
  if (segments.length === 0 || segments.at(-1) !== "") return "directory";
  return find(real, [options.index], { ...options, index: false });
}

/** A directory asked without its final `/`: there, so relative links work. */
function addSlash(environ: Environ, startResponse: StartResponse): string[] {
  const query = environ.QUERY_STRING ? `?${environ.QUERY_STRING}` : "";
  startResponse("301 Moved Permanently", [
    ["Location", `${requestUri(environ, false)}/${query}`],
    ["Content-Type", "text/plain; charset=utf-8"],
  ]);
  return [];
}

async function sendFile(
  environ: Environ,
  startResponse: StartResponse,
  path: string,
  options: StaticOptions,
): Promise<Body> {
  const file = await Deno.open(path);
  let body: Body | undefined;
  try {
    // The opened file's own facts, not the path's: it may have changed.
    const { size, mtime } = await file.stat();
    const etag = `"${size.toString(16)}-${
      (mtime?.getTime() ?? 0).toString(16)
    }"`;
    const headers: Header[] = [["ETag", etag], ["Accept-Ranges", "bytes"]];
    if (mtime) headers.push(["Last-Modified", mtime.toUTCString()]);
    if (options.cacheControl) {
      headers.push(["Cache-Control", options.cacheControl]);
    }
    if (notModified(environ, etag, mtime)) {
      startResponse("304 Not Modified", headers);
      return [];
    }
    headers.push(["Content-Type", contentType(path, options.contentTypes)]);
    const range = wantedRange(environ, etag, mtime, size);
    if (range === "unsatisfiable") {
      startResponse("416 Range Not Satisfiable", [
        ...headers,
        ["Content-Range", `bytes */${size}`],
      ]);
      return [];
    }
    const [start, end] = range ?? [0, size - 1];
    if (range) headers.push(["Content-Range", `bytes ${start}-${end}/${size}`]);
    headers.push(["Content-Length", String(end + 1 - start)]);
    startResponse(range ? "206 Partial Content" : "200 OK", headers);
    if (environ.REQUEST_METHOD === "HEAD" || size === 0) return [];
    if (start > 0) await file.seek(start, Deno.SeekMode.Start);
    const wrap: FileWrapper = environ["wsgi.file_wrapper"] ?? fileWrapper;
    body = wrap({
      readable: range ? slice(file, end + 1 - start) : file.readable,
      close() {
        try {
          file.close();
        } catch {
          // Already closed with its stream.
        }
      },
    });
    return body;
  } finally {
    if (body === undefined) file.close();
  }
}

/** RFC 9110 §13.2.2: If-None-Match first; If-Modified-Since only without it. */
function notModified(
  environ: Environ,
  etag: string,
  mtime: Date | null,
): boolean {
  const ifNoneMatch = environ.HTTP_IF_NONE_MATCH;
  if (ifNoneMatch !== undefined) {
    // The weak comparison: W/"x" matches "x".
    return ifNoneMatch.trim() === "*" ||
      ifNoneMatch.split(",").some((tag) =>
        tag.trim().replace(/^W\//, "") === etag
      );
  }
  const since = Date.parse(environ.HTTP_IF_MODIFIED_SINCE ?? "");
  // HTTP dates have whole seconds; the file's time may not.
  return mtime !== null && !Number.isNaN(since) &&
    Math.floor(mtime.getTime() / 1000) * 1000 <= since;
}

/**
 * The one range asked for, `"unsatisfiable"`, or `undefined` to send the
 * whole file: no Range, a malformed one, several (allowed by RFC 9110), or
 * an `If-Range` that no longer matches.
 */
function wantedRange(
  environ: Environ,
  etag: string,
  mtime: Date | null,
  size: number,
): [number, number] | "unsatisfiable" | undefined {
  const header = environ.HTTP_RANGE;
  if (header === undefined || environ.REQUEST_METHOD !== "GET") return;
  const ifRange = environ.HTTP_IF_RANGE?.trim();
  if (
    ifRange !== undefined && ifRange !== etag &&
    ifRange !== mtime?.toUTCString()
  ) return;
  const match = /^bytes=[ \t]*(\d*)-(\d*)[ \t]*$/.exec(header);
  if (match === null || match[1] === "" && match[2] === "") return;
  const [first, last] = [match[1], match[2]];
  if (first === "") {
    // A suffix: the last N bytes.
    const length = Number(last);
    if (length === 0 || size === 0) return "unsatisfiable";
    return [Math.max(0, size - length), size - 1];
  }
  const start = Number(first);
  const end = last === "" ? size - 1 : Math.min(Number(last), size - 1);
  if (last !== "" && Number(last) < start) return;
  if (start >= size) return "unsatisfiable";
  return [start, end];
}

/** The next `length` bytes of an open file, read as the client pulls them. */
function slice(file: Deno.FsFile, length: number): ReadableStream<Uint8Array> {
  let left = length;
  return new ReadableStream({
    async pull(controller) {
      const buffer = new Uint8Array(Math.min(left, 64 * 1024));
      const read = await file.read(buffer);
      if (read === null) return controller.close();
      left -= read;
      controller.enqueue(buffer.subarray(0, read));
      if (left === 0) controller.close();
    },
  });
}

/** Text types, read by browsers as UTF-8 only when told. */
const TEXT = "; charset=utf-8";
const TYPES: Record<string, string> = {
  ".html": "text/html" + TEXT,
  ".htm": "text/html" + TEXT,
  ".css": "text/css" + TEXT,
  ".js": "text/javascript" + TEXT,
  ".mjs": "text/javascript" + TEXT,
  ".json": "application/json" + TEXT,
  ".map": "application/json" + TEXT,
  ".txt": "text/plain" + TEXT,
  ".md": "text/markdown" + TEXT,
  ".csv": "text/csv" + TEXT,
  ".xml": "application/xml" + TEXT,
  ".svg": "image/svg+xml" + TEXT,
  ".ts": "text/plain" + TEXT,
  ".py": "text/plain" + TEXT,
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".gif": "image/gif",
  ".webp": "image/webp",
  ".avif": "image/avif",
  ".ico": "image/vnd.microsoft.icon",
  ".pdf": "application/pdf",
  ".wasm": "application/wasm",
  ".woff": "font/woff",
  ".woff2": "font/woff2",
  ".ttf": "font/ttf",
  ".otf": "font/otf",
  ".mp3": "audio/mpeg",
  ".ogg": "audio/ogg",
  ".wav": "audio/wav",
  ".mp4": "video/mp4",
  ".webm": "video/webm",
  ".zip": "application/zip",
  ".gz": "application/gzip",
};

/** The type for a file name's extension; unknown ones are just bytes. */
function contentType(path: string, extra: Record<string, string> = {}): string {
  const name = path.slice(path.lastIndexOf("/") + 1);
  const dot = name.lastIndexOf(".");
  const extension = dot > 0 ? name.slice(dot).toLowerCase() : "";
  return Object.hasOwn(extra, extension)
    ? extra[extension]
    : Object.hasOwn(TYPES, extension)
    ? TYPES[extension]
    : "application/octet-stream";
}
