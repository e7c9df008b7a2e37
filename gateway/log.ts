/**
 * Watching an exchange: the access log (one Common Log Format line per
 * response, as wsgiref and gunicorn print) and the trace (every step of the
 * flow between server and application, for learners). The gateway creates a
 * watcher per request only when one of them is on, so both cost nothing when
 * off.
 *
 * @module
 */

import type { Environ, LogWriter } from "../types.ts";
import { SERVER_PROTOCOL } from "./head.ts";
import { encoder, utf8Length } from "./bytes.ts";
import { writeText } from "./errors.ts";
import { Spool } from "./spool.ts";

/** Where a log writes its lines (without the trailing newline). */
export type LogSink = (line: string) => void;

/**
 * Where the gateway writes its access log: a function that takes each line,
 * or a spool that takes its bytes (a line to standard output is never a
 * string).
 */
export type AccessSink = LogSink | Spool;

/** The hooks the gateway calls as one request goes through it. */
export interface Watcher {
  /** Whether the steps matter (the trace), or only the end (the log). */
  readonly tracing: boolean;
  startResponse(status: unknown, headers: unknown, excInfo: unknown): void;
  /** A read of wsgi.input: the call as made, and the bytes it gave. */
  read(call: string, given: number): void;
  write(size: number): void;
  chunk(size: number): void;
  close(call: string): void;
  /**
   * The response is over: the bytes its body carried, or a text body whose
   * UTF-8 length they are (measuring it is the log's cost, so the log pays
   * it). A HEAD's body is counted as none, whatever is given. `how` tells a
   * response that did not end as the app's body did: the gateway's own
   * answer in its place, a body cut off by an error, a client gone.
   */
  end(status: number, sent: number | string, how?: Ending): void;
}

/**
 * How a response ended, when not as the application's body did: the
 * gateway's own answer, a body cut off, a client that left during the body
 * or before any answer.
 */
export type Ending = "gateway" | "aborted" | "left" | "gone";

/** Every spool of the process: the server's shutdown flushes them all. */
const spools = new Set<Spool>();

/**
 * A spool over `writer` that never makes the server wait. Standard error is
 * written asynchronously too: it may be as stuck as standard output, and a
 * warning must not stop the server either.
 */
export function spoolOf(writer: LogWriter, name: string): Spool {
  const spool = new Spool(
    writer,
    (line) => Deno.stderr.write(encoder.encode(line + "\n")).catch(() => {}),
    undefined,
    name,
  );
  spools.add(spool);
  return spool;
}

/** Standard output, through a spool that never makes the server wait. */
export const standardOutputSpool: Spool = spoolOf(
  Deno.stdout,
  "standard output",
);

/** Standard output, a line at a time. */
export const standardOutput: LogSink = (line) => standardOutputSpool.push(line);

/**
 * Standard output, each line written as it comes, as standard error is: in
 * its place among what the application prints itself (`console.log`, a
 * Python `print`), which the trace is about; and, as standard error, a
 * stalled terminal stalls the server.
 */
export const standardOutputNow: LogSink = (line) => {
  try {
    writeText(Deno.stdout, `${line}\n`);
  } catch {
    // A standard output gone (a closed pipe) costs lines, never a request:
    // the spool drops them and counts them, as it does for the access log.
    standardOutputSpool.push(line);
  }
};

/**
 * Waits until the lines given to every log's spool are written (at most
 * `seconds`, for a stuck pipe); the server's shutdown calls it.
 */
export async function flushLogs(seconds?: number): Promise<void> {
  await Promise.all([...spools].map((spool) => spool.flush(seconds)));
}

/**
 * Makes the watcher of one request. The request and its peer come as Deno
 * gave them, with the target the gateway cut from the request line: the
 * access log reads them without going through the environ, which a request
 * refused before the application never gets.
 */
export type Watchers = (
  environ: Environ | undefined,
  request: Request,
  target: string,
  info: Deno.ServeHandlerInfo | undefined,
) => Watcher;

/** Makes watchers for a gateway, or nothing when no log is on. */
export function watchers(
  accessLog: AccessSink | undefined,
  trace: LogSink | undefined,
): Watchers | undefined {
  if (trace === undefined) {
    return accessLog &&
      ((environ, request, target, info) =>
        new AccessLine(environ, request, target, info, accessLog));
  }
  let count = 0;
  return (environ, request, target, info) =>
    new RequestWatcher(
      environ,
      request,
      target,
      info,
      ++count,
      accessLog,
      trace,
    );
}

/**
 * The access log alone: every step but the end costs nothing, and the end
 * writes the line: to standard output straight as bytes into the spool,
 * where it keeps no object alive until the write.
 */
class AccessLine implements Watcher {
  readonly tracing = false;
  #sink: AccessSink;
  // Read when the request starts (by the end Deno may have let go of the
  // request), from the request itself: the lazy environ's groups stay
  // unfilled for an application that reads nothing.
  #host?: string;
  #method: string;
  #target: string;
  #environ?: Environ;
  #ended = false;

  constructor(
    environ: Environ | undefined,
    request: Request,
    target: string,
    info: Deno.ServeHandlerInfo | undefined,
    sink: AccessSink,
  ) {
    const remote = info?.remoteAddr as Deno.Addr | undefined;
    this.#host = remote && "hostname" in remote ? remote.hostname : undefined;
    this.#environ = environ;
    this.#method = request.method;
    this.#target = target;
    this.#sink = sink;
  }

  startResponse(): void {}
  read(): void {}
  write(): void {}
  chunk(): void {}
  close(): void {}

  end(status: number, sent: number | string): void {
    // The first end is what the client got: an answer past appTimeout is
    // not undone by the application's body coming after it.
    if (this.#ended) return;
    this.#ended = true;
    // Behind a trusted proxy, the client as the application sees it: the
    // environ's own value, written during the request (no group filled).
    const environ = this.#environ;
    const client = environ?.["deno.proxy_fix.orig"] !== undefined
      ? environ.REMOTE_ADDR
      : undefined;
    const line: CommonLog = {
      host: client ?? this.#host ?? "-",
      method: this.#method,
      target: this.#target,
      protocol: SERVER_PROTOCOL,
      status,
      bytes: sizeOf(sent, this.#method),
      when: now(),
    };
    if (typeof this.#sink === "function") {
      this.#sink(commonLog(line));
      return;
    }
    const batch = this.#sink.batch(bound(line));
    if (batch !== undefined) {
      write(batch, line);
      batch.text("\n");
    }
  }
}

/** The environ keys a learner wants to see; objects and noise left out. */
const TRACED = /^(?:[A-Z_]+|wsgi\.url_scheme)$/;

class RequestWatcher implements Watcher {
  #number: number;
  #method: string;
  #accessLine?: AccessLine;
  #trace: LogSink;
  #started = performance.now();
  #last = this.#started;
  #chunks = 0;
  #writes = 0;
  /** Bytes the app gave, by write() or as chunks. */
  #given = 0;
  #ended = false;

  constructor(
    environ: Environ | undefined,
    request: Request,
    target: string,
    info: Deno.ServeHandlerInfo | undefined,
    number: number,
    accessLog: AccessSink | undefined,
    trace: LogSink,
  ) {
    this.#number = number;
    this.#method = request.method;
    this.#accessLine = accessLog &&
      new AccessLine(environ, request, target, info, accessLog);
    this.#trace = trace;
    this.#say(`client → server  ${request.method} ${target}`);
    if (environ === undefined) {
      this.#say("server           refused before the application runs");
      return;
    }
    this.#say("server → app     environ:");
    for (const key of Object.keys(environ).sort()) {
      if (TRACED.test(key)) {
        this.#say(
          `                   ${key} = ${show(environ[key])}`,
        );
      }
    }
    this.#say("server → app     app(environ, startResponse)");
  }

  readonly tracing = true;

  startResponse(status: unknown, headers: unknown, excInfo: unknown): void {
    const args = [status, headers].map(show);
    if (excInfo != null) {
      args.push(excInfo instanceof Error ? String(excInfo) : show(excInfo));
    }
    this.#step(`app → server     startResponse(${args.join(", ")})`);
  }

  read(call: string, given: number): void {
    this.#step(`server → app     wsgi.input.${call}: ${bytes(given)}`);
  }

  write(size: number): void {
    this.#writes++;
    this.#given += size;
    this.#step(`app → server     write(): ${bytes(size)}`);
  }

  chunk(size: number): void {
    this.#given += size;
    this.#step(`app → server     chunk ${++this.#chunks}: ${bytes(size)}`);
  }

  close(call: string): void {
    this.#step(`server → app     body.${call}`);
  }

  end(status: number, sent: number | string, how?: Ending): void {
    // The first end is what the client got (see AccessLine.end).
    if (this.#ended) return;
    this.#ended = true;
    const took = (performance.now() - this.#started).toFixed(2);
    const told = how === "gone"
      ? "nothing: the client left before the answer"
      : this.#told(status, sizeOf(sent, this.#method), how);
    this.#say(`server → client  ${told}, ${took} ms in all`);
    this.#accessLine?.end(status, sent);
  }

  /** What the client got of a response that reached it. */
  #told(status: number, size: number, how: Ending | undefined): string {
    const parts = [
      count(this.#writes, "write"),
      count(this.#chunks, "chunk"),
    ].filter((part) => part !== undefined);
    // A client that left took less than the app gave.
    const amount = size < this.#given
      ? `${size} of ${bytes(this.#given)}`
      : bytes(size);
    const what = parts.length > 0 && how !== "gateway"
      ? `${amount} from ${parts.join(" and ")}`
      : size > 0
      ? `${bytes(size)} written by the gateway`
      : "no body";
    const then = how === "aborted"
      ? ", then cut off (wsgi.errors says why)"
      : how === "left"
      ? ", then the client left"
      : "";
    return `${status}, ${what}${then}`;
  }

  /** A step of the flow, with the time since the step before. */
  #step(what: string): void {
    const now = performance.now();
    this.#say(`${what} (+${(now - this.#last).toFixed(2)} ms)`);
    this.#last = now;
  }

  #say(line: string): void {
    this.#trace(`[trace #${this.#number}] ${line}`);
  }
}

/**
 * A value as a learner reads it: JSON, or `<InputStream>`-like names for
 * objects. Showing must never change what happens, so what JSON cannot show
 * (cycles, BigInt, a null-prototype error) is named instead.
 */
export function show(value: unknown): string {
  if (typeof value === "object" && value !== null && !Array.isArray(value)) {
    return `<${value.constructor?.name ?? "object"}>`;
  }
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

/**
 * The bytes a body carried on the wire: none for HEAD, whose body Deno
 * drops; a text's UTF-8 length, measured only now.
 */
function sizeOf(sent: number | string, method: string): number {
  if (method === "HEAD") return 0;
  return typeof sent === "string" ? utf8Length(sent) : sent;
}

function bytes(size: number): string {
  return size === 1 ? "1 byte" : `${size} bytes`;
}

function count(n: number, what: string): string | undefined {
  if (n === 0) return undefined;
  return n === 1 ? `1 ${what}` : `${n} ${what}s`;
}

const MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(" ");

/**
 * `127.0.0.1 - - [23/Nov/2026:19:42:21 +0000] "GET / HTTP/1.1" 200 181`:
 * the Common Log Format, in local time, with `-` for no bytes: the line of
 * an access-log entry, for a request given as its environ and a date.
 */
export function commonLogLine(
  environ: Pick<
    Environ,
    "REMOTE_ADDR" | "REQUEST_METHOD" | "REQUEST_URI" | "SERVER_PROTOCOL"
  >,
  status: number,
  bytes: number,
  date: Date,
): string {
  return commonLog({
    host: environ.REMOTE_ADDR ?? "-",
    method: environ.REQUEST_METHOD,
    target: environ.REQUEST_URI,
    protocol: environ.SERVER_PROTOCOL,
    status,
    bytes,
    when: clfDate(date),
  });
}

/** What a line says, `-` for an unknown host. */
interface CommonLog {
  host: string;
  method: string;
  target: string;
  protocol: string;
  status: number;
  bytes: number;
  /** The date, formatted. */
  when: string;
}

/** The line as text, through the one format. */
function commonLog(line: CommonLog): string {
  const text = new Text();
  write(text, line);
  return text.value;
}

/** Where a line is written: the spool's bytes, or a string. */
interface Out {
  text(text: string): void;
  digits(n: number): void;
}

class Text implements Out {
  value = "";
  text(text: string): void {
    this.value += text;
  }
  digits(n: number): void {
    this.value += n;
  }
}

/**
 * The most bytes a line can take: three per UTF-16 unit of its texts, and
 * 64 for its punctuation and two numbers (a number's text, as
 * `commonLogLine` may be given any, is at most 25 characters).
 */
function bound(line: CommonLog): number {
  return 3 * (line.host.length + line.method.length + line.target.length +
        line.protocol.length + line.when.length) + 64;
}

function write(out: Out, line: CommonLog): void {
  out.text(line.host);
  out.text(" - - [");
  out.text(line.when);
  out.text('] "');
  out.text(line.method);
  out.text(" ");
  out.text(line.target);
  out.text(" ");
  out.text(line.protocol);
  out.text('" ');
  out.digits(line.status);
  out.text(" ");
  if (line.bytes > 0) out.digits(line.bytes);
  else out.text("-");
}

/** The date of this second: formatted once a second, not once a line. */
let second = 0;
let secondText = "";
function now(): string {
  const time = Date.now();
  const whole = time - time % 1000;
  if (whole !== second) {
    second = whole;
    secondText = clfDate(new Date(whole));
  }
  return secondText;
}

function clfDate(date: Date): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  const offset = -date.getTimezoneOffset();
  const sign = offset < 0 ? "-" : "+";
  const zone = `${sign}${pad(Math.floor(Math.abs(offset) / 60))}${
    pad(Math.abs(offset) % 60)
  }`;
  return `${pad(date.getDate())}/${
    MONTHS[date.getMonth()]
  }/${date.getFullYear()}:${pad(date.getHours())}:${pad(date.getMinutes())}:${
    pad(date.getSeconds())
  } ${zone}`;
}
