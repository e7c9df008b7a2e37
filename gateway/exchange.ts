/**
 * Steps 2 to 5 of a request, as wsgiref's `BaseHandler.run()` takes them:
 * call the application, check what it gives `startResponse`, hand its body
 * to `response.ts`, close the body however the response ends, and handle
 * whatever goes wrong on the way.
 *
 * @module
 */

import {
  type Application,
  type Body,
  type Chunk,
  ContractError,
  type Environ,
  type Header,
  type Write,
} from "../types.ts";
import { encoder } from "./bytes.ts";
import { requestLine } from "./errors.ts";
import type { Clock } from "./clock.ts";
import type { Context } from "./context.ts";
import { type Answering, deadline } from "./deadline.ts";
import { makeEnviron } from "./environ.ts";
import { type Head, targetOf } from "./head.ts";
import { ClientGone, Input, RequestRefused } from "./input.ts";
import { refusal, refusalText } from "./limits.ts";
import type { Ending, Watcher } from "./log.ts";
import { CLIENT_GONE, ClientSignal, EXPIRED } from "./signal.ts";
import {
  type Committed,
  respondAtOnce,
  type Responder,
  respondStreaming,
} from "./response.ts";
import {
  Broken,
  checkBody,
  type Checked,
  checkHeaders,
  checkStatus,
  describe,
  NO_CONTENT,
  noContent,
  notAChunk,
} from "./rules.ts";

/** One request: the environ built, then the application run on it. */
export function handle(
  app: Application,
  request: Request,
  head: Head,
  info: Deno.ServeHandlerInfo | undefined,
  context: Context,
): Response | Promise<Response> {
  return new Exchange(request, head, info, context).run(app);
}

type Source = Iterator<Chunk> | AsyncIterator<Chunk>;

/**
 * The state of one request/response exchange, from the application call to
 * the last byte of the body.
 */
export class Exchange implements Responder, Answering {
  readonly environ: Environ;
  readonly context: Context;
  /** The trace and access log, when either is on. */
  readonly watch?: Watcher;
  /** Chunks waiting to go out: write() data, then the body's. */
  #pending: Uint8Array[] = [];
  /** The status and headers last given to startResponse, checked. */
  #status?: [code: number, reason: string];
  #headers?: Checked;
  /** True once the status and headers have gone into a Response. */
  #committed = false;
  /** The first contract rule broken, kept even if the app swallowed it. */
  #broken?: ContractError;
  #body?: Body;
  #source?: Source;
  /** Empty chunks in a row: a body's heartbeat, or a runaway loop. */
  #empties = 0;
  #finished = false;
  /** The input as the gateway made it, to learn why it stopped reading. */
  #input: Input;
  /** Behind `deno.signal`, made when first needed. */
  #signal?: ClientSignal;
  /** True once the application ran out of time and was answered for. */
  #expired = false;
  /** The request as Deno gave it, whatever the app does to its environ. */
  #request: Request;

  constructor(
    request: Request,
    head: Head,
    info: Deno.ServeHandlerInfo | undefined,
    context: Context,
  ) {
    this.context = context;
    this.#request = request;
    const input = this.#input = new Input(request, head.headers);
    const { read, app } = context.timeouts;
    // The deadline does not count the time reads wait on the client.
    input.guard(context.limits.body, read, context.clock, app > 0);
    const environ = this.environ = makeEnviron(
      request,
      head,
      info,
      context,
      input,
      this,
    );
    // An optional call evaluates no argument when no log is on.
    const watch = this.watch = context.watch?.(
      environ,
      request,
      targetOf(head),
      info,
    );
    if (watch?.tracing) input.observe((call, given) => watch.read(call, given));
  }

  #clientSignal(): ClientSignal {
    return this.#signal ??= new ClientSignal(this.#request);
  }

  /** `deno.signal`: an AbortController costs, so one is made when read. */
  signal(): AbortSignal {
    return this.#clientSignal().signal();
  }

  /**
   * From now on, a client that goes away fires `deno.signal` too. Only an
   * answer still pending after a turn of the event loop follows the client.
   */
  followClient(): void {
    this.#clientSignal().follow();
  }

  /** Milliseconds `wsgi.input` has waited on the client by `now`. */
  waited(now: number): number {
    return this.#input.waited(now);
  }

  /** Whether a read of `wsgi.input` waits on the client now. */

  /** The application has answered (see {@linkcode ClientSignal.answered}). */
  answered(): void {
    this.#signal?.answered();
  }

  /** The client went away in the middle of the body. */
  left(): void {
    this.log("the client went away before the whole body was sent");
    this.#clientSignal().abort(CLIENT_GONE);
    this.finish(false);
  }

  /** The headers as checked: their declared length and whether typed. */
  get headers(): Checked | undefined {
    return this.#headers;
  }

  get onWire(): boolean {
    return this.context.onWire;
  }

  get sendTimeout(): number {
    return this.context.timeouts.send;
  }

  get clock(): Clock {
    return this.context.clock;
  }

  get tracing(): boolean {
    return this.watch?.tracing ?? false;
  }

  get gone(): AbortSignal {
    return this.#request.signal;
  }

  written(): Uint8Array[] {
    return this.#pending;
  }

  sent(size: number): void {
    this.watch?.chunk(size);
  }

  ended(status: number, body: number | string, how?: Ending): void {
    // A broken access log (an option's function that throws) must change
    // no answer: said in wsgi.errors instead.
    try {
      this.watch?.end(status, body, how);
    } catch (error) {
      this.log("the access log raised an error", error);
    }
  }

  // -- 2. the application call ------------------------------------------------

  /**
   * Calls the application. The result is a Promise only when something on
   * the way is async: a sync app with an array body costs no promise at all.
   * Only an answer still pending needs a deadline on the clock, which then
   * carries the app's promise to its response itself (a promise less).
   */
  run(app: Application): Response | Promise<Response> {
    const { timeouts, clock } = this.context;
    try {
      const body = app(this.environ, this.startResponse);
      if (body instanceof Promise) return deadline(this, body, timeouts, clock);
      const response = this.respond(body);
      return response instanceof Promise
        ? deadline(this, response, timeouts, clock, true)
        : response;
    } catch (error) {
      return this.fail(error);
    }
  }

  /** The application's result becomes the response, or its 500. */
  respond(result: unknown): Response | Promise<Response> {
    try {
      const body = checkBody(result);
      if (body instanceof Broken) this.break(body);
      this.#body = body;
      if (this.#expired) {
        // The 503 went long ago: this body is only closed.
        this.log("the application answered after its deadline");
        this.finish(false);
        return serverError();
      }
      if (Array.isArray(body) || typeof body === "string") {
        return respondAtOnce(this, body);
      }
      this.#source = Symbol.asyncIterator in body
        ? body[Symbol.asyncIterator]()
        : body[Symbol.iterator]();
      return respondStreaming(this).catch((error) => this.fail(error));
    } catch (error) {
      return this.fail(error);
    }
  }

  // -- 3. startResponse and write, as the application sees them --------------

  startResponse = (status: string, headers: Header[], excInfo?: unknown) => {
    this.watch?.startResponse(status, headers, excInfo);
    if (this.#status !== undefined) {
      // null, like Python's None, is no excInfo at all.
      if (excInfo == null) {
        this.break(
          new Broken(
            "startResponse.once",
            "startResponse() was called a second time without excInfo; pass the caught error as the third argument to replace the status",
          ),
        );
      }
      if (this.#committed) throw excInfo;
    }
    const parsed = checkStatus(status);
    if (parsed instanceof Broken) this.break(parsed);
    const checked = checkHeaders(headers);
    if (checked instanceof Broken) this.break(checked);
    this.#status = parsed;
    this.#headers = checked;
    return this.write;
  };

  write: Write = (chunk) => {
    if (this.#status === undefined) {
      this.break(
        new Broken(
          "write.before-start",
          "write() was called before startResponse()",
        ),
      );
    }
    const bytes = this.toBytes(chunk, "write.chunk");
    this.watch?.write(bytes.byteLength);
    if (this.#finished) {
      this.log(
        `write() came after the body had ended: ${bytes.byteLength} bytes dropped`,
      );
    } else if (bytes.byteLength > 0) this.#pending.push(bytes);
  };

  /**
   * Records a broken rule and throws it into the application. The log line
   * is the rule's sentence; the validator adds the rule's id.
   */
  break(broken: Broken): never {
    const error = new ContractError(broken.message);
    this.#broken ??= error;
    throw error;
  }

  toBytes(
    chunk: unknown,
    rule: "write.chunk" | "body.chunk" = "body.chunk",
  ): Uint8Array {
    if (typeof chunk === "string") return encoder.encode(chunk);
    if (chunk instanceof Uint8Array) return chunk;
    return this.break(notAChunk(chunk, rule));
  }

  // -- 4. the body --------------------------------------------------------------

  /**
   * The next chunk to send, pulling the body as needed; undefined once the
   * body is over. A Promise only when the body is async.
   */
  next(): Uint8Array | undefined | Promise<Uint8Array | undefined> {
    while (this.#pending.length === 0) {
      // Let other requests run between long runs of empty chunks.
      if (this.#empties >= 1024) {
        this.#empties = 0;
        return new Promise((resolve) => setTimeout(resolve)).then(() =>
          this.next()
        );
      }
      const step = this.#source!.next();
      if (step instanceof Promise) {
        return step.then((step) =>
          this.#take(step) ? this.next() : this.#ended()
        );
      }
      if (!this.#take(step)) return this.#ended();
    }
    if (this.#broken) throw this.#broken;
    return this.#pending.shift();
  }

  /** Takes one step of the body; false when the body is over. */
  #take(step: IteratorResult<Chunk>): boolean {
    if (this.#broken) throw this.#broken;
    if (step.done) return false;
    const bytes = this.toBytes(step.value);
    if (bytes.byteLength > 0) {
      this.#pending.push(bytes);
      this.#empties = 0;
    } else this.#empties++;
    return true;
  }

  /** The body is over: close it (without waiting) and say so. */
  #ended(): undefined {
    this.finish(true);
  }

  /**
   * Fixes the response: from here on it cannot change. The headers are the
   * app's own list, so their case and order reach the wire as written.
   */
  commit(hasContent: boolean): Committed {
    // A first chunk after the deadline's 503: no stream for nobody, which
    // would hold the body until sendTimeout; fail() only closes it.
    if (this.#expired) throw EXPIRED;
    if (this.#broken) throw this.#broken;
    // The application may have caught it; the answer is still the refusal.
    if (this.#input.refused) throw this.#input.refused;
    if (this.#status === undefined) {
      this.break(
        new Broken(
          "startResponse.never",
          "startResponse() was never called; the application must call it before returning its body",
        ),
      );
    }
    const [status, statusText] = this.#status;
    if (hasContent && NO_CONTENT.has(status)) {
      this.break(noContent(status));
    }
    this.#committed = true;
    // Deno.serve never sends a reason phrase, and a non-empty one costs it.
    return {
      status,
      statusText: this.context.onWire ? "" : statusText,
      headers: this.#headers!.list,
    };
  }

  /**
   * Whether the client asked for HEAD, whatever the app made of
   * REQUEST_METHOD. Deno caches the method with the URL: no cost.
   */
  get head(): boolean {
    return this.#request.method === "HEAD";
  }

  /** HEAD and 304 may declare the length of a body they do not carry. */
  headersOnly(status: number): boolean {
    return this.head || status === 304;
  }

  // -- 5. close -------------------------------------------------------------------

  /**
   * Closes the body exactly once, whichever way the response ended, and
   * lets go of the request body's unread rest. Nobody waits for it but the
   * tests: a slow close() delays no response.
   */
  finish(completed: boolean): Promise<void> | undefined {
    if (this.#finished) return;
    this.#finished = true;
    // Before the response's end reaches Deno, which then decides whether
    // the connection stays open: an unread rest of the body is let go.
    this.#input.release();
    const source = completed ? undefined : this.#source;
    if (source?.return || this.#body?.close) return this.#close(source);
  }

  async #close(unfinished: Source | undefined): Promise<void> {
    // Both at once: an async generator returns only after its pending step,
    // and the body's own close() must not wait for that.
    await Promise.all([
      unfinished?.return && this.#call("return()", () => unfinished.return!()),
      this.#body?.close && this.#call("close()", () => this.#body!.close!()),
    ]);
  }

  async #call(name: string, method: () => unknown): Promise<void> {
    this.watch?.close(name);
    try {
      await method();
    } catch (error) {
      this.log(`the body's ${name} raised an error`, error);
    }
  }

  // -- when things go wrong -----------------------------------------------------

  /**
   * After the first chunk it is too late for a 500: abort the transfer, so
   * the client sees a broken response rather than a truncated one that looks
   * complete.
   */
  abort(
    controller: ReadableStreamDefaultController<Uint8Array>,
    error: unknown,
  ): void {
    this.log("the response was aborted after it had started", error);
    controller.error(new ResponseAborted());
    this.finish(false);
  }

  /**
   * Before the first chunk went out: close the body, answer 500, or the 4xx
   * a refused request gets.
   */
  fail(error: unknown): Response {
    this.finish(false);
    // The deadline answered already; this is only the body's last word.
    if (this.#expired) return serverError();
    const refused = error instanceof RequestRefused
      ? error
      : this.#input.refused;
    if (refused) {
      this.log(refused.message);
      const { status, message } = refused;
      this.ended(status, refusalText(status, message), "gateway");
      return refusal(status, message);
    }
    if (error instanceof ClientGone) {
      // Nobody takes the answer: logged as nginx logs it, 499.
      this.log(error.message);
      this.ended(CLIENT_CLOSED, 0, "gone");
      return serverError();
    }
    if (error instanceof ContractError) this.log(error.message);
    else this.log("the application raised an error", error);
    this.ended(500, SERVER_ERROR_BODY.length, "gateway");
    return serverError();
  }

  /**
   * The application did not answer in time: a 503, `deno.signal` fired, and
   * the body closed if there is one yet (else when it comes).
   */
  expire(seconds: number): Response {
    this.#expired = true;
    this.#signal?.abort(EXPIRED);
    this.log(`the application did not answer in ${seconds} s (appTimeout)`);
    this.#input.release();
    if (this.#body !== undefined) this.finish(false);
    this.ended(503, refusalText(503), "gateway");
    return refusal(503);
  }

  /** One line naming what happened, then the stack if there is one. */
  log(what: string, error?: unknown): void {
    let line = requestLine(this.environ, what);
    if (error !== undefined) line += `${explain(error)}\n`;
    try {
      this.context.errors.write(line);
    } catch {
      // A broken error stream must not take the response down with it.
    }
  }
}

/**
 * What a body stream fails with once the response has started. Deno prints
 * it, so it says where the full story is, in one line and with no stack.
 */
export class ResponseAborted extends Error {
  constructor() {
    super(
      "[wsgi] response aborted after it had started; the reason is in wsgi.errors",
    );
    this.stack = this.message;
  }
}

/** nginx's status for a request whose client left before the answer. */
const CLIENT_CLOSED = 499;

const SERVER_ERROR_BODY =
  "A server error occurred. Please contact the administrator.\n";

/** The gateway's 500: plain text, no detail for the client. */
export function serverError(): Response {
  return new Response(SERVER_ERROR_BODY, {
    status: 500,
    statusText: "Internal Server Error",
    headers: { "content-type": "text/plain; charset=utf-8" },
  });
}

/** The rule a ContractError names, an Error's stack, or the value thrown. */
export function explain(error: unknown): string {
  if (error instanceof ContractError) return `  rule: ${error.message}`;
  // The client's doing, not a bug: the sentence is the whole story.
  if (error instanceof ClientGone || error instanceof RequestRefused) {
    return `  ${error.message}`;
  }
  if (error instanceof Error) return String(error.stack);
  return `  thrown: ${describe(error)}`;
}
