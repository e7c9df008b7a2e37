/**
 * Behind a reverse proxy the gateway sees the proxy, not the client: its
 * address, `http` where the client used `https`, the upstream's name.
 * {@linkcode proxyFix}, after Werkzeug's `ProxyFix`, puts the client back
 * from the headers the proxy adds, trusting only as many hops as you say.
 *
 * @example
 * ```ts
 * import { serve } from "@denowsgi/wsgi";
 * import { proxyFix } from "@denowsgi/wsgi/proxy";
 *
 * const app = proxyFix((environ, startResponse) => {
 *   startResponse("200 OK", [["Content-Type", "text/plain"]]);
 *   return [`Hola ${environ.REMOTE_ADDR} (${environ["wsgi.url_scheme"]})\n`];
 * }, { for: 1, proto: 1, host: 1, prefix: 1 });
 * await using server = serve(app, { hostname: "127.0.0.1", port: 0, onListen() {} });
 * ```
 *
 * @module
 */

import type { Application, Environ } from "./types.ts";

/**
 * How many proxies in front of the application set each header; 0 (the
 * default for every one) trusts none. A header is a list the proxies
 * append to, the client's own values first, so the value trusted is the
 * one `n` from the end, and a list shorter than `n` is not trusted at all:
 * whatever a client writes itself sits further left and never wins.
 *
 * @example One nginx in front, sending all five X-Forwarded headers
 * ```ts
 * import type { ProxyFixOptions } from "@denowsgi/wsgi/proxy";
 *
 * const options: ProxyFixOptions = { for: 1, proto: 1, host: 1, port: 1, prefix: 1 };
 * ```
 */
export interface ProxyFixOptions {
  /** `X-Forwarded-For` → REMOTE_ADDR. */
  for?: number;
  /** `X-Forwarded-Proto` → `wsgi.url_scheme`. */
  proto?: number;
  /** `X-Forwarded-Host` → HTTP_HOST, SERVER_NAME and SERVER_PORT. */
  host?: number;
  /** `X-Forwarded-Port` → SERVER_PORT (and the port in HTTP_HOST). */
  port?: number;
  /**
   * `X-Forwarded-Prefix` → SCRIPT_NAME, where the app is mounted: a path of
   * printable ASCII (percent-encoded, as proxies send it), else ignored.
   */
  prefix?: number;
  /**
   * RFC 7239 `Forwarded`: its `for`, `proto` and `host` parameters, read
   * instead of X-Forwarded-For, -Proto and -Host. Trust it only if every
   * trusted proxy sets it: nginx, for one, passes a client's own through.
   */
  forwarded?: number;
  /**
   * The peers whose headers are trusted, as gunicorn's
   * `forwarded_allow_ips`: addresses, or `"*"` for any. A request from
   * another peer keeps what the gateway saw. A peer with no address (a unix
   * socket, where the proxy is the only one who can connect) is trusted.
   * Absent: any peer, as Werkzeug's `ProxyFix`.
   */
  allowFrom?: string[];
}

/**
 * The environ key under which {@linkcode proxyFix} keeps the values it
 * may change (REMOTE_ADDR, `wsgi.url_scheme`, HTTP_HOST, SERVER_NAME,
 * SERVER_PORT, SCRIPT_NAME) as the gateway had set them.
 *
 * @example
 * ```ts
 * import { ORIGINAL_KEY, proxyFix } from "@denowsgi/wsgi/proxy";
 *
 * const app = proxyFix((environ, startResponse) => {
 *   const proxy = environ[ORIGINAL_KEY] as { REMOTE_ADDR?: string };
 *   startResponse("200 OK", []);
 *   return [`via ${proxy.REMOTE_ADDR}`];
 * }, { for: 1 });
 * ```
 */
export const ORIGINAL_KEY = "deno.proxy_fix.orig";

const SAVED = [
  "REMOTE_ADDR",
  "wsgi.url_scheme",
  "HTTP_HOST",
  "SERVER_NAME",
  "SERVER_PORT",
  "SCRIPT_NAME",
] as const;

const HOST = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::\d{1,5})?$/;
const PORT = /^\d{1,5}$/;
const IPV4 =
  /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;
// Printable ASCII: a header's other bytes would reach SCRIPT_NAME as latin-1
// characters, where the gateway's paths are UTF-8 (a proxy percent-encodes).
const PREFIX = /^\/(?:(?![?#])[!-~])*$/;

/**
 * Wraps `app` so that the environ it sees holds the client's address,
 * scheme, host, port and mount prefix as the trusted proxies forwarded
 * them. What the gateway had set stays readable, as an object, under
 * `environ["deno.proxy_fix.orig"]`. Values that do not parse (a scheme
 * other than http or https, a host with a path in it) are ignored.
 *
 * @example Through the test client, as one proxy would call it
 * ```ts
 * import assert from "node:assert/strict";
 * import { proxyFix } from "@denowsgi/wsgi/proxy";
 * import { Client } from "@denowsgi/wsgi/testing";
 *
 * const client = new Client(proxyFix((environ, startResponse) => {
 *   startResponse("200 OK", []);
 *   return [`${environ.REMOTE_ADDR} ${environ["wsgi.url_scheme"]}`];
 * }, { for: 1, proto: 1 }));
 * const response = await client.get("/", {
 *   headers: { "X-Forwarded-For": "6.6.6.6, 203.0.113.7", "X-Forwarded-Proto": "https" },
 * });
 * assert.equal(response.text, "203.0.113.7 https");
 * ```
 */
export function proxyFix(
  app: Application,
  options: ProxyFixOptions = {},
): Application {
  const trust = {
    for: hops(options.for),
    proto: hops(options.proto),
    host: hops(options.host),
    port: hops(options.port),
    prefix: hops(options.prefix),
    forwarded: hops(options.forwarded),
  };
  const allowed = options.allowFrom && !options.allowFrom.includes("*")
    ? new Set(options.allowFrom.map(peerOf))
    : undefined;
  return (environ, startResponse) => {
    const peer = environ.REMOTE_ADDR;
    if (allowed && peer !== undefined && !allowed.has(peerOf(peer))) {
      return app(environ, startResponse);
    }
    const original: Record<string, unknown> = {};
    for (const key of SAVED) original[key] = environ[key];
    environ[ORIGINAL_KEY] = original;
    const forwarded = trust.forwarded
      ? element(environ.HTTP_FORWARDED, trust.forwarded)
      : undefined;
    const pick = (header: string, n: number) =>
      trust.forwarded ? undefined : last(environ[header], n);

    const client = forwarded?.get("for") ??
      pick("HTTP_X_FORWARDED_FOR", trust.for);
    const ip = client && address(client);
    if (ip) environ.REMOTE_ADDR = ip;
    const scheme = forwarded?.get("proto") ??
      pick("HTTP_X_FORWARDED_PROTO", trust.proto);
    if (scheme === "http" || scheme === "https") {
      environ["wsgi.url_scheme"] = scheme;
    }
    const host = forwarded?.get("host") ??
      pick("HTTP_X_FORWARDED_HOST", trust.host);
    if (host && HOST.test(host) && portOf(host) !== undefined) {
      setHost(environ, host);
    }
    const port = last(environ.HTTP_X_FORWARDED_PORT, trust.port);
    if (port && isPort(port)) setPort(environ, port);
    const prefix = last(environ.HTTP_X_FORWARDED_PREFIX, trust.prefix);
    if (prefix && PREFIX.test(prefix)) {
      environ.SCRIPT_NAME = prefix.replace(/\/+$/, "");
    }
    return app(environ, startResponse);
  };
}

/** An address as compared: IPv4-mapped IPv6 and case do not matter. */
function peerOf(address: string): string {
  const lower = address.toLowerCase();
  return lower.startsWith("::ffff:") && lower.includes(".")
    ? lower.slice(7)
    : lower;
}

function hops(n: number | undefined): number {
  if (n === undefined) return 0;
  if (!Number.isInteger(n) || n < 0) {
    throw new RangeError(`a hop count is a whole number ≥ 0, got ${n}`);
  }
  return n;
}

/** The value `n` from the end of a comma-separated header, if it has `n`. */
function last(header: unknown, n: number): string | undefined {
  if (n === 0 || typeof header !== "string") return undefined;
  const values = header.split(",");
  return values.length >= n ? values[values.length - n].trim() : undefined;
}

/**
 * The `Forwarded` element `n` from the end, as its parameters (names in
 * lower case, quoted strings unquoted). Commas inside quotes do not split.
 */
function element(
  header: unknown,
  n: number,
): Map<string, string> | undefined {
  if (typeof header !== "string") return undefined;
  const elements = header.match(/(?:[^,"]|"(?:[^"\\]|\\.)*")+/g) ?? [];
  if (elements.length < n) return undefined;
  const params = new Map<string, string>();
  const pairs = elements[elements.length - n].matchAll(
    /([^=;\s]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;\s]*)/g,
  );
  for (const [, name, value] of pairs) {
    params.set(
      name.toLowerCase(),
      value.startsWith('"')
        ? value.slice(1, -1).replace(/\\(.)/g, "$1")
        : value,
    );
  }
  return params;
}

/** A forwarded node (`[2001:db8::1]:4711`, `192.0.2.1:80`) without its port. */
/**
 * The IP address of a forwarded node (`1.2.3.4`, `1.2.3.4:80`, `[::1]:80`,
 * `::1`), or undefined for anything else (`unknown`, an obfuscated
 * `_name`, text that is no address): what is not an address is not trusted.
 */
function address(node: string): string | undefined {
  let ip = node;
  if (node.startsWith("[")) {
    const end = node.indexOf("]");
    const rest = node.slice(end + 1);
    if (
      end === -1 || (rest !== "" && !(rest[0] === ":" && isPort(rest.slice(1))))
    ) {
      return undefined;
    }
    ip = node.slice(1, end);
  } else {
    const colon = node.indexOf(":");
    if (colon !== -1 && colon === node.lastIndexOf(":")) {
      if (!isPort(node.slice(colon + 1))) return undefined;
      ip = node.slice(0, colon);
    }
  }
  return IPV4.test(ip) || isIPv6(ip) ? ip : undefined;
}

function isIPv6(text: string): boolean {
  if (!/^[0-9A-Fa-f:.]+$/.test(text) || !text.includes(":")) return false;
  try {
    new URL(`http://[${text}]/`);
    return true;
  } catch {
    return false;
  }
}

/** A port in 1–65535, written as digits. */
function isPort(text: string): boolean {
  return PORT.test(text) && Number(text) >= 1 && Number(text) <= 65535;
}

/** The port a host names ("" when none), or undefined when out of range. */
function portOf(host: string): string | undefined {
  const colon = host.lastIndexOf(":");
  if (colon <= host.lastIndexOf("]")) return "";
  const port = host.slice(colon + 1);
  return isPort(port) ? port : undefined;
}

function setHost(environ: Environ, host: string): void {
  environ.HTTP_HOST = host;
  const colon = host.lastIndexOf(":");
  const hasPort = colon > host.lastIndexOf("]");
  environ.SERVER_NAME = hasPort ? host.slice(0, colon) : host;
  environ.SERVER_PORT = hasPort
    ? host.slice(colon + 1)
    : environ["wsgi.url_scheme"] === "https"
    ? "443"
    : "80";
}

function setPort(environ: Environ, port: string): void {
  environ.SERVER_PORT = port;
  const host = environ.HTTP_HOST ?? environ.SERVER_NAME;
  const colon = host.lastIndexOf(":");
  const name = colon > host.lastIndexOf("]") ? host.slice(0, colon) : host;
  const usual = environ["wsgi.url_scheme"] === "https" ? "443" : "80";
  environ.HTTP_HOST = port === usual ? name : `${name}:${port}`;
}
