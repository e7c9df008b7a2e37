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
import { requestLine } from "./errors.ts";
import type { Context, Listening } from "./context.ts";
import { fileWrapper } from "./file_wrapper.ts";
import {
  authorityOf,
  contentLength,
  type Head,
  SERVER_PROTOCOL,
  targetOf,
} from "./head.ts";
import type { Input } from "./input.ts";

/** The groups of keys filled on first touch, as bits. */
const TARGET = 1;
const REMOTE = 2;
const HEADERS = 4;
const SIGNAL = 8;

/**
 * Builds the environ of `request`, whose `url` and Host header the gateway
 * has already read. The target is cut out of the URL past the Host, so the
 * query and any bad escapes in the path reach the application exactly as
 * they came, and no Host can move the path.
 */
export function makeEnviron(
  request: Request,
  head: Head,
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
  environ.SERVER_PROTOCOL = SERVER_PROTOCOL;
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
  const lazy = new Lazy(head, info, context, signals);
  lazy.target = environ;
  (environ as unknown as Record<symbol, Lazy>)[LAZY] = lazy;
  return lazy.proxy = new Proxy(environ, lazy);
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
  /** The environ these traps serve, to tell its writes from a child's. */
  proxy?: Environ;
  /** What the proxy stands for: the keys filled so far. */
  target?: Environ;
  /** What `Object.getPrototypeOf` answers while the target's is ours. */
  #prototype: object | null = Object.prototype;
  #signals: SignalSource;
  #head: Head;
  #info?: Deno.ServeHandlerInfo;
  #context: Context;
  #unfilled: number;
  /** Header keys deleted before every header was fetched. */
  #gone?: Set<string>;

  constructor(
    head: Head,
    info: Deno.ServeHandlerInfo | undefined,
    context: Context,
    signals: SignalSource,
  ) {
    this.#signals = signals;
    this.#head = head;
    this.#info = info;
    this.#context = context;
    this.#unfilled = TARGET | HEADERS | SIGNAL |
      (info === undefined ? 0 : REMOTE);
  }

  get(environ: Environ, key: string | symbol): unknown {
    const value = environ[key as string];
    if (value !== undefined || this.#unfilled === 0) return value;
    this.#find(environ, key);
    return environ[key as string];
  }

  has(environ: Environ, key: string | symbol): boolean {
    if (this.#unfilled !== 0) this.#find(environ, key);
    return key in environ;
  }

  set(
    environ: Environ,
    key: string | symbol,
    value: unknown,
    receiver: unknown,
  ): boolean {
    // An object inheriting from the environ gets the key as its own.
    if (receiver !== this.proxy) {
      return Reflect.set(environ, key, value, receiver);
    }
    if (this.#unfilled !== 0) this.#claim(environ, key);
    environ[key as string] = value;
    return true;
  }

  deleteProperty(environ: Environ, key: string | symbol): boolean {
    if (this.#unfilled !== 0 && this.#claim(environ, key)) {
      (this.#gone ??= new Set()).add(key as string);
    }
    return delete environ[key as string];
  }

  defineProperty(
    environ: Environ,
    key: string | symbol,
    descriptor: PropertyDescriptor,
  ): boolean {
    if (this.#unfilled !== 0) this.#claim(environ, key);
    return Reflect.defineProperty(environ, key, descriptor);
  }

  getOwnPropertyDescriptor(
    environ: Environ,
    key: string | symbol,
  ): PropertyDescriptor | undefined {
    if (this.#unfilled !== 0) this.#find(environ, key);
    return Reflect.getOwnPropertyDescriptor(environ, key);
  }

  ownKeys(environ: Environ): (string | symbol)[] {
    for (const group of GROUPS) this.fill(environ, group);
    return Reflect.ownKeys(environ).filter((key) => key !== LAZY);
  }

  /** The environ answers to `Object.getPrototypeOf` as a plain object. */
  getPrototypeOf(): object | null {
    return this.#prototype;
  }

  /** A new prototype, or a frozen environ: every key first, then as asked. */
  setPrototypeOf(environ: Environ, prototype: object | null): boolean {
    this.#settle(environ);
    if (!Reflect.setPrototypeOf(environ, prototype)) return false;
    this.#prototype = prototype;
    return true;
  }

  preventExtensions(environ: Environ): boolean {
    this.#settle(environ);
    Reflect.setPrototypeOf(environ, this.#prototype);
    return Reflect.preventExtensions(environ);
  }

  /**
   * Fills every group and drops what only a lazy environ needs, so that the
   * target is the whole environ, printable and freezable as it is.
   */
  #settle(environ: Environ): void {
    for (const group of GROUPS) this.fill(environ, group);
    delete (environ as unknown as Record<symbol, Lazy>)[LAZY];
  }

  /**
   * Makes `key` present if the request has it: its group filled, or, for a
   * header, that one header looked up (`Object.keys` alone needs them all).
   */
  #find(environ: Environ, key: string | symbol): void {
    const group = typeof key === "string" ? groupOf(key) : 0;
    if (group !== HEADERS) {
      if (group !== 0) this.fill(environ, group);
      return;
    }
    const header = key as string;
    if (
      (this.#unfilled & HEADERS) === 0 || header in environ ||
      this.#gone?.has(header)
    ) return;
    try {
      const value = header === "HTTP_HOST"
        ? this.#head.host ?? this.#authority()
        : headerOf(this.#head.headers, header);
      if (value !== undefined) environ[header] = value;
    } catch (error) {
      this.#unfilled &= ~HEADERS;
      this.#tooLate(environ, HEADERS, error);
    }
  }

  /**
   * Before a write: fills the key's group, so that a later fill cannot undo
   * the write; a header is written over as it is. True for a header key.
   */
  #claim(environ: Environ, key: string | symbol): boolean {
    const group = typeof key === "string" ? groupOf(key) : 0;
    if (group === HEADERS) return true;
    if (group !== 0) this.fill(environ, group);
    return false;
  }

  fill(environ: Environ, group: number): boolean {
    if ((this.#unfilled & group) === 0) return false;
    this.#unfilled &= ~group;
    if (group === TARGET) {
      fillTarget(environ, this.#head, this.#context.listening);
    } else if (group === SIGNAL) {
      environ["deno.signal"] = this.#signals.signal();
    } else {
      try {
        if (group === REMOTE) fillRemote(environ, this.#info!);
        else {
          fillHeaders(
            environ,
            this.#head.headers,
            this.#authority(),
            this.#gone,
          );
        }
      } catch (error) {
        // Deno closes a request as soon as a whole response is handed over.
        this.#tooLate(environ, group, error);
      }
    }
    return true;
  }

  /**
   * What stands for a Host the client did not send: HTTP/2's `:authority`
   * or an absolute-form target, which Deno keeps only in the URL; nothing
   * when the URL holds Deno's own fallback, as for HTTP/1.0 with no Host.
   */
  #authority(): string | undefined {
    if (this.#head.host !== null) return undefined;
    const authority = authorityOf(this.#head);
    return authority === this.#context.listening.fallback
      ? undefined
      : authority;
  }

  /** A group first touched after Deno let go of the request: say so, once. */
  #tooLate(environ: Environ, group: number, error: unknown): void {
    this.fill(environ, TARGET);
    const keys = group === REMOTE ? "REMOTE_ADDR and REMOTE_PORT" : "headers";
    this.#context.errors.write(
      requestLine(
        environ,
        `the environ's ${keys} were first read after the response was sent, when Deno no longer holds the request, so they read as absent; read or copy them while handling the request (${error})`,
      ),
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
function fillTarget(environ: Environ, head: Head, listening: Listening): void {
  const target = targetOf(head);
  const queryStart = target.indexOf("?");
  const rawPath = queryStart === -1 ? target : target.slice(0, queryStart);
  const scheme = listening.scheme ??
    (head.url.startsWith("https:") ? "https" : "http");
  const authority = authorityOf(head);
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

/**
 * Every header, as `HTTP_*` keys and the two CGI ones, but for those the
 * application already wrote or deleted; `authority` is HTTP_HOST when the
 * client sent no Host header.
 */
function fillHeaders(
  environ: Environ,
  headers: Headers,
  authority: string | undefined,
  gone: Set<string> | undefined,
): void {
  const keep = (key: string, value: string) => {
    if (!(key in environ) && !gone?.has(key)) environ[key] = value;
  };
  // forEach, not for…of: Deno's Headers iterator re-sorts at every step.
  headers.forEach((value, name) => {
    const key = keyOf(name);
    if (key !== undefined) keep(key, valueOf(name, value));
  });
  if (authority !== undefined) keep("HTTP_HOST", authority);
}

/**
 * One header, for its environ key; undefined when the request has none. A
 * `Headers.get` costs one lookup once Deno has made the Headers.
 */
function headerOf(headers: Headers, key: string): string | undefined {
  const name = nameOf(key);
  if (name === undefined) return undefined;
  const value = headers.get(name);
  if (value !== null) return valueOf(name, value);
}

const cgiNames = new Map<string, string | undefined>();

/**
 * `user-agent` → `HTTP_USER_AGENT`, remembered: the same few names recur. A
 * name with `_` has no key: it could pose as a dashed one once both are
 * `_`.
 */
function keyOf(name: string): string | undefined {
  let key = cgiNames.get(name);
  if (key === undefined && !cgiNames.has(name)) {
    key = name === "content-type"
      ? "CONTENT_TYPE"
      : name === "content-length"
      ? "CONTENT_LENGTH"
      : name.includes("_")
      ? undefined
      : `HTTP_${name.toUpperCase().replaceAll("-", "_")}`;
    if (cgiNames.size < 512) cgiNames.set(name, key);
  }
  return key;
}

/** The header name behind an environ key: `keyOf` backwards. */
function nameOf(key: string): string | undefined {
  if (key === "CONTENT_TYPE") return "content-type";
  if (key === "CONTENT_LENGTH") return "content-length";
  if (!key.startsWith("HTTP_") || key !== key.toUpperCase()) return undefined;
  const name = key.slice(5).toLowerCase().replaceAll("_", "-");
  return keyOf(name) === key ? name : undefined;
}

/** A header's value as the environ holds it. */
function valueOf(name: string, value: string): string {
  // Deno joins a repeated Content-Length ("3, 3"); it refuses unequal ones.
  if (name === "content-length") return contentLength(value);
  // A Headers object joins repeated Cookie lines with ", ", as Deno.serve
  // does not: cookies hold no ", " of their own (RFC 6265).
  if (name === "cookie") return value.replaceAll(", ", "; ");
  return value;
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

// One escape, captured so that split() keeps it as a part of its own.
const ESCAPE = /(%[0-9a-fA-F]{2})/;

/**
 * Percent-decodes a path as UTF-8, losslessly: a byte that is not part of
 * valid UTF-8 becomes U+DC80 + its value, as Python's `surrogateescape`
 * does, so two different paths never read the same (latin-1 for bad bytes
 * alone would make `/%E9` read as `/%C3%A9` does). Malformed escapes stay
 * as they are, and it never throws; the exact bytes remain in REQUEST_URI.
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
    return escapingDecode(bytes);
  }
}

/** UTF-8 with every byte outside a valid sequence as a lone surrogate. */
function escapingDecode(bytes: number[]): string {
  let text = "";
  for (let i = 0; i < bytes.length;) {
    const length = sequenceAt(bytes, i);
    if (length === 0) text += String.fromCharCode(0xdc00 + bytes[i++]);
    else {
      text += utf8.decode(new Uint8Array(bytes.slice(i, i + length)));
      i += length;
    }
  }
  return text;
}

const utf8 = new TextDecoder();

/**
 * The length of the valid UTF-8 sequence at `i`, or 0: no overlong forms,
 * no surrogates, nothing past U+10FFFF (RFC 3629, section 4).
 */
function sequenceAt(bytes: number[], i: number): number {
  const lead = bytes[i];
  if (lead < 0x80) return 1;
  const [length, low, high] = lead >= 0xc2 && lead <= 0xdf
    ? [2, 0x80, 0xbf]
    : lead === 0xe0
    ? [3, 0xa0, 0xbf]
    : lead === 0xed
    ? [3, 0x80, 0x9f]
    : lead >= 0xe1 && lead <= 0xef
    ? [3, 0x80, 0xbf]
    : lead === 0xf0
    ? [4, 0x90, 0xbf]
    : lead === 0xf4
    ? [4, 0x80, 0x8f]
    : lead >= 0xf1 && lead <= 0xf3
    ? [4, 0x80, 0xbf]
    : [0, 0, 0];
  if (length === 0 || i + length > bytes.length) return 0;
  if (bytes[i + 1] < low || bytes[i + 1] > high) return 0;
  for (let k = 2; k < length; k++) {
    if (bytes[i + k] < 0x80 || bytes[i + k] > 0xbf) return 0;
  }
  return length;
}

/**
 * Every key of the environ whose value is a string, and its value, in one
 * list (key, value, …): what crosses to another thread. A lazy environ has
 * its groups filled and is then read past its traps, which would cost a
 * call per key; it makes no `deno.signal`, which is not a string.
 */
export function stringPairs(environ: Environ): string[] {
  const lazy = (environ as unknown as Record<symbol, Lazy | undefined>)[LAZY];
  let source = environ;
  if (lazy?.proxy === environ && lazy.target !== undefined) {
    source = lazy.target;
    for (const group of GROUPS) if (group !== SIGNAL) lazy.fill(source, group);
  }
  const pairs: string[] = [];
  for (const key in source) {
    const value = source[key];
    if (typeof value === "string") pairs.push(key, value);
  }
  return pairs;
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
