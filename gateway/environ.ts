/**
 * Step 1 of a request: the environ, built from Deno's `Request` as PEP 3333
 * lays it out (CGI variables, `HTTP_*` headers, the `wsgi.*` keys).
 *
 * It costs only what the application reads. Deno materializes the headers,
 * the client's address and the URL only when asked, and asking is most of
 * what a gateway costs over a raw handler; so the environ is a Proxy over a
 * plain object holding the keys that cost nothing, and it fills a group of
 * keys (the target, the client's address, the headers) the first time any
 * key of that group is touched. Every way of looking at an object — a read,
 * `in`, `Object.keys`, spread, `JSON.stringify`, `console.log` — sees the
 * whole environ; writes and deletes fill the group first, so middleware
 * rewrites what the application then reads.
 *
 * @module
 */

import type { Environ } from "../types.ts";
import { encoder } from "./bytes.ts";
import type { Context } from "./context.ts";
import { fileWrapper } from "./file_wrapper.ts";
import { Input } from "./input.ts";

/** The groups of keys filled on first touch, as bits. */
const TARGET = 1;
const REMOTE = 2;
const HEADERS = 4;
const SIGNAL = 8;

/**
 * Builds the environ of `request`, whose `url` the gateway has already
 * read. The target is cut out of the URL as a string, so the query and any
 * bad escapes in the path reach the application exactly as they came.
 */
export function makeEnviron(
  request: Request,
  url: string,
  info: Deno.ServeHandlerInfo | undefined,
  context: Context,
  input: Input,
  signals: SignalSource,
): Environ {
  const { listening } = context;
  const environ = Object.create(INSPECTABLE) as Environ;
  environ.SCRIPT_NAME = "";
  if (listening.name !== undefined) {
    environ.SERVER_NAME = listening.name;
    environ.SERVER_PORT = listening.port!;
  }
  environ.SERVER_PROTOCOL = "HTTP/1.1";
  environ["wsgi.version"] = [1, 0];
  environ["wsgi.input"] = input;
  environ["wsgi.errors"] = context.errors;
  environ["wsgi.multithread"] = false;
  environ["wsgi.multiprocess"] = context.multiprocess;
  environ["wsgi.run_once"] = false;
  environ["wsgi.input_terminated"] = true;
  environ["wsgi.file_wrapper"] = fileWrapper;
  environ["deno.request"] = request;
  if (info !== undefined) environ["deno.info"] = info;
  const lazy = new Lazy(request, url, info, context, signals);
  (environ as unknown as Record<symbol, Lazy>)[LAZY] = lazy;
  return new Proxy(environ, lazy);
}

/** Where `deno.signal` comes from: made only when the app first reads it. */
export interface SignalSource {
  signal(): AbortSignal;
}

/** Where the target keeps its traps, for the inspector, which reads the target. */
const LAZY = Symbol("lazy environ");

/**
 * What the inspector shows: Deno's `console.log` looks up this symbol on a
 * Proxy's target, so a learner's `console.log(environ)` prints every key.
 */
const INSPECTABLE = Object.create(Object.prototype, {
  [Symbol.for("Deno.customInspect")]: {
    value(
      this: Environ & { [LAZY]: Lazy },
      inspect: (value: unknown, options: unknown) => string,
      options: unknown,
    ) {
      const keys = this[LAZY].ownKeys(this);
      return inspect(
        Object.fromEntries(keys.map((key) => [key, this[key as string]])),
        options,
      );
    },
  },
});

/** The traps: each fills the group of the key it touches, once. */
class Lazy implements ProxyHandler<Environ> {
  #signals: SignalSource;
  #request: Request;
  #url: string;
  #info?: Deno.ServeHandlerInfo;
  #context: Context;
  #unfilled: number;

  constructor(
    request: Request,
    url: string,
    info: Deno.ServeHandlerInfo | undefined,
    context: Context,
    signals: SignalSource,
  ) {
    this.#signals = signals;
    this.#request = request;
    this.#url = url;
    this.#info = info;
    this.#context = context;
    this.#unfilled = TARGET | HEADERS | SIGNAL |
      (info === undefined ? 0 : REMOTE);
  }

  get(environ: Environ, key: string | symbol): unknown {
    const value = environ[key as string];
    if (value !== undefined || this.#unfilled === 0) return value;
    return this.#fillFor(environ, key) ? environ[key as string] : undefined;
  }

  has(environ: Environ, key: string | symbol): boolean {
    if (this.#unfilled !== 0) this.#fillFor(environ, key);
    return key in environ;
  }

  set(environ: Environ, key: string | symbol, value: unknown): boolean {
    if (this.#unfilled !== 0) this.#fillFor(environ, key);
    environ[key as string] = value;
    return true;
  }

  deleteProperty(environ: Environ, key: string | symbol): boolean {
    if (this.#unfilled !== 0) this.#fillFor(environ, key);
    return delete environ[key as string];
  }

  defineProperty(
    environ: Environ,
    key: string | symbol,
    descriptor: PropertyDescriptor,
  ): boolean {
    if (this.#unfilled !== 0) this.#fillFor(environ, key);
    return Reflect.defineProperty(environ, key, descriptor);
  }

  getOwnPropertyDescriptor(
    environ: Environ,
    key: string | symbol,
  ): PropertyDescriptor | undefined {
    if (this.#unfilled !== 0) this.#fillFor(environ, key);
    return Reflect.getOwnPropertyDescriptor(environ, key);
  }

  ownKeys(environ: Environ): (string | symbol)[] {
    for (const group of GROUPS) this.#fill(environ, group);
    return Reflect.ownKeys(environ).filter((key) => key !== LAZY);
  }

  /** The environ answers to `Object.getPrototypeOf` as a plain object. */
  getPrototypeOf(): object {
    return Object.prototype;
  }

  /** Fills the group `key` belongs to; false when it was already filled. */
  #fillFor(environ: Environ, key: string | symbol): boolean {
    const group = typeof key === "string" ? groupOf(key) : 0;
    return group !== 0 && this.#fill(environ, group);
  }

  #fill(environ: Environ, group: number): boolean {
    if ((this.#unfilled & group) === 0) return false;
    this.#unfilled &= ~group;
    if (group === TARGET) fillTarget(environ, this.#url);
    else if (group === SIGNAL) {
      environ["deno.signal"] = this.#signals.signal();
    } else {
      try {
        if (group === REMOTE) fillRemote(environ, this.#info!);
        else fillHeaders(environ, this.#request);
      } catch (error) {
        // Deno closes a request as soon as a whole response is handed over.
        this.#tooLate(environ, group, error);
      }
    }
    return true;
  }

  /** A group first touched after Deno let go of the request: say so, once. */
  #tooLate(environ: Environ, group: number, error: unknown): void {
    this.#fill(environ, TARGET);
    const keys = group === REMOTE ? "REMOTE_ADDR and REMOTE_PORT" : "headers";
    this.#context.errors.write(
      `[wsgi] ${environ.REQUEST_METHOD} ${environ.REQUEST_URI}: the environ's ${keys} were first read after the response was sent, when Deno no longer holds the request, so they read as absent; read or copy them while handling the request (${error})\n`,
    );
  }
}

/** Every group, in the order `Object.keys` lists them. */
const GROUPS = [TARGET, REMOTE, HEADERS, SIGNAL];

/** Which group a key is filled by; 0 for keys that are there from the start. */
function groupOf(key: string): number {
  switch (key) {
    case "REQUEST_METHOD":
    case "PATH_INFO":
    case "QUERY_STRING":
    case "REQUEST_URI":
    case "RAW_URI":
    case "wsgi.url_scheme":
    case "SERVER_NAME":
    case "SERVER_PORT":
      return TARGET;
    case "REMOTE_ADDR":
    case "REMOTE_PORT":
      return REMOTE;
    case "CONTENT_TYPE":
    case "CONTENT_LENGTH":
      return HEADERS;
    case "deno.signal":
      return SIGNAL;
  }
  return key.startsWith("HTTP_") ? HEADERS : 0;
}

/**
 * The method and what the URL holds: `request.url` is
 * `scheme://authority/target`.
 */
function fillTarget(environ: Environ, url: string): void {
  const authorityStart = url.indexOf("://") + 3;
  let targetStart = url.indexOf("/", authorityStart);
  if (targetStart === -1) targetStart = url.length;
  let targetEnd = url.indexOf("#", targetStart);
  if (targetEnd === -1) targetEnd = url.length;
  const target = url.slice(targetStart, targetEnd) || "/";
  const queryStart = target.indexOf("?");
  const rawPath = queryStart === -1 ? target : target.slice(0, queryStart);
  const scheme = url.startsWith("https:") ? "https" : "http";
  const authority = url.slice(authorityStart, targetStart);
  environ.REQUEST_METHOD = (environ["deno.request"] as Request).method;
  environ.PATH_INFO = decodePath(rawPath);
  environ.QUERY_STRING = queryStart === -1 ? "" : target.slice(queryStart + 1);
  // Under serve the listening address is known from the start.
  if (environ.SERVER_NAME === undefined) {
    environ.SERVER_NAME = hostOf(authority);
    environ.SERVER_PORT = portOf(authority, scheme);
  }
  environ.REQUEST_URI = target;
  environ.RAW_URI = target;
  environ["wsgi.url_scheme"] = scheme;
}

function fillRemote(environ: Environ, info: Deno.ServeHandlerInfo): void {
  const remote = info.remoteAddr as Deno.Addr;
  if (remote.transport === "tcp" || remote.transport === "udp") {
    environ.REMOTE_ADDR = remote.hostname;
    environ.REMOTE_PORT = String(remote.port);
  }
}

function fillHeaders(environ: Environ, request: Request): void {
  // forEach, not for…of: Deno's Headers iterator re-sorts at every step.
  request.headers.forEach((value, name) => {
    if (name === "content-type") environ.CONTENT_TYPE = value;
    // Deno joins a repeated Content-Length ("3, 3"); it refuses unequal ones.
    else if (name === "content-length") {
      environ.CONTENT_LENGTH = value.split(",", 1)[0].trim();
    } // An underscore name could pose as a dashed one once both become `_`.
    // A Headers object joins repeated Cookie lines with ", ", as Deno.serve
    // does not: cookies hold no ", " of their own (RFC 6265).
    else if (name === "cookie") {
      environ.HTTP_COOKIE = value.replaceAll(", ", "; ");
    } else if (!name.includes("_")) environ[cgiName(name)] = value;
  });
  // HTTP/2 carries the host in :authority, which Deno keeps only in the URL;
  // a request with neither was refused before the environ was built.
  if (environ.HTTP_HOST === undefined) {
    const url = request.url;
    const start = url.indexOf("://") + 3;
    const end = url.indexOf("/", start);
    environ.HTTP_HOST = url.slice(start, end === -1 ? url.length : end);
  }
}

const cgiNames = new Map<string, `HTTP_${string}`>();

/** `user-agent` → `HTTP_USER_AGENT`, remembered: the same few names recur. */
function cgiName(name: string): `HTTP_${string}` {
  let cgi = cgiNames.get(name);
  if (cgi === undefined) {
    cgi = `HTTP_${name.toUpperCase().replaceAll("-", "_")}`;
    if (cgiNames.size < 512) cgiNames.set(name, cgi);
  }
  return cgi;
}

function hostOf(authority: string): string {
  const end = authority.startsWith("[")
    ? authority.indexOf("]") + 1
    : authority.lastIndexOf(":");
  return end > 0 ? authority.slice(0, end) : authority;
}

function portOf(authority: string, scheme: string): string {
  const colon = authority.lastIndexOf(":");
  return colon > authority.lastIndexOf("]")
    ? authority.slice(colon + 1)
    : scheme === "https"
    ? "443"
    : "80";
}

const utf8 = new TextDecoder();
// One escape, captured so that split() keeps it as a part of its own.
const ESCAPE = /(%[0-9a-fA-F]{2})/;

/**
 * Percent-decodes a path as UTF-8. Malformed escapes stay as they are and
 * invalid UTF-8 becomes U+FFFD, so it never throws; the exact bytes remain
 * in REQUEST_URI.
 */
function decodePath(raw: string): string {
  if (!raw.includes("%")) return raw;
  try {
    return decodeURIComponent(raw);
  } catch {
    // Escapes become bytes; the text between them is encoded whole, so a
    // character outside the BMP (two UTF-16 units) survives.
    const bytes: number[] = [];
    for (const part of raw.split(ESCAPE)) {
      if (ESCAPE.test(part)) bytes.push(parseInt(part.slice(1), 16));
      else bytes.push(...encoder.encode(part));
    }
    return utf8.decode(new Uint8Array(bytes));
  }
}

/**
 * The request headers an environ describes (`HTTP_*`, CONTENT_TYPE and
 * CONTENT_LENGTH): the way back from {@linkcode makeEnviron}.
 */
export function headersOf(environ: Environ): Headers {
  const headers = new Headers();
  for (const [key, value] of Object.entries(environ)) {
    if (typeof value !== "string") continue;
    const name = key.startsWith("HTTP_")
      ? key.slice(5)
      : key === "CONTENT_TYPE" || key === "CONTENT_LENGTH"
      ? key
      : undefined;
    if (name) headers.set(name.replaceAll("_", "-").toLowerCase(), value);
  }
  return headers;
}
