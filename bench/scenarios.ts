/**
 * Every benchmark compares twins: a WSGI application run through the gateway
 * and a raw fetch handler that answers the same bytes the way a Deno user
 * would write it by hand. The raw twin is the ceiling; the gap between the
 * two is the gateway's cost. The micro-benchmarks and the HTTP servers build
 * their twins here, so both levels measure the same code.
 *
 * @module
 */
import type { Application, GatewayOptions, Header } from "../mod.ts";

// The twins' types refer to the contract's; `deno doc --lint` wants them
// reachable from here.
export type * from "../mod.ts";
import { holaMundoApp } from "../examples/holamundo.ts";

/** What `Deno.serve` would run without the gateway. */
export type RawHandler = (request: Request) => Response | Promise<Response>;

/** The same response, from a WSGI application and from a raw handler. */
export interface Twins {
  /** The WSGI side, served through the gateway. */
  app: Application;
  /** The same response, by hand, with nothing in between. */
  raw: RawHandler;
}

const BINARY: Header = ["Content-Type", "application/octet-stream"];

/**
 * The lesson's page. The raw twin replays what the lesson's app passes to
 * startResponse and returns, so the two cannot drift apart.
 */
export function lesson(): Twins {
  const { status, headers, page } = lessonResponse();
  return {
    app: holaMundoApp,
    raw: () => new Response(page, { status, headers }),
  };
}

/** The lesson app's status, headers and page, as the app gives them. */
export function lessonResponse(): {
  status: number;
  headers: Header[];
  page: string;
} {
  let status = "";
  let headers: Header[] = [];
  // The lesson's app reads nothing from the environ.
  const body = holaMundoApp({} as never, (s, h) => {
    status = s;
    headers = h;
    return () => {};
  });
  if (!Array.isArray(body) || typeof body[0] !== "string") {
    throw new TypeError("the lesson's app no longer returns [page]");
  }
  return { status: parseInt(status), headers, page: body.join("") };
}

/**
 * The lesson's page from an app that is merely `async`, as any real
 * TypeScript app is: it awaits something. The raw twin is async too.
 */
export function lessonAsync(): Twins {
  const { app, raw } = lesson();
  return {
    app: async (environ, startResponse) => await app(environ, startResponse),
    raw: async (request) => await raw(request),
  };
}

/**
 * A small form post: the app reads the whole body through `wsgi.input`
 * and answers its length; the raw twin reads `request.arrayBuffer()`.
 */
export function post(): Twins {
  const headers: Header[] = [["Content-Type", "text/plain; charset=utf-8"]];
  return {
    app: async (environ, startResponse) => {
      const body = await environ["wsgi.input"].read();
      startResponse("200 OK", headers);
      return [`${body.byteLength}\n`];
    },
    raw: async (request) => {
      const body = await request.arrayBuffer();
      return new Response(`${body.byteLength}\n`, { headers });
    },
  };
}

/**
 * What a real app pays: it reads the host, a cookie and the query, so the
 * environ fetches Deno's headers; the raw twin asks Deno for the same.
 */
export function appReads(): Twins {
  const headers: Header[] = [["Content-Type", "text/plain; charset=utf-8"]];
  const answer = (host: unknown, cookie: unknown, query: unknown) =>
    `Hola ${host}, ${cookie}, ${query}\n`;
  return {
    app: (environ, startResponse) => {
      startResponse("200 OK", headers);
      return [
        answer(environ.HTTP_HOST, environ.HTTP_COOKIE, environ.QUERY_STRING),
      ];
    },
    raw: (request) => {
      const url = new URL(request.url);
      return new Response(
        answer(
          request.headers.get("host"),
          request.headers.get("cookie"),
          url.search.slice(1),
        ),
        { headers },
      );
    },
  };
}

/** A fixed page of `size` bytes, returned as one bytes chunk. */
export function page(size: number): Twins {
  const row = "<p>Hola mundo! Hecho con Deno y WSGI.</p>\n";
  const end = "</body></html>\n";
  const html = `<!doctype html>\n<html><body>\n${
    row.repeat(Math.floor((size - 64) / row.length))
  }`;
  // Spaces make up the exact size: every byte is ASCII.
  const bytes = new TextEncoder().encode(html.padEnd(size - end.length) + end);
  const headers: Header[] = [["Content-Type", "text/html; charset=utf-8"]];
  return {
    app: (_environ, startResponse) => {
      startResponse("200 OK", headers);
      return [bytes];
    },
    raw: () => new Response(bytes, { headers }),
  };
}

/**
 * `count` copies of `chunk`: a generator on the WSGI side, a stream that
 * enqueues one chunk per pull on the raw side (both send a chunk only when
 * the client can take it).
 */
export function chunks(chunk: Uint8Array, count: number): Twins {
  return {
    app: function* (_environ, startResponse) {
      startResponse("200 OK", [BINARY]);
      for (let i = 0; i < count; i++) yield chunk;
    },
    raw: () => {
      let sent = 0;
      const stream = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (sent++ < count) controller.enqueue(chunk);
          else controller.close();
        },
      });
      return new Response(stream, { headers: [BINARY] });
    },
  };
}

/**
 * Reads the request body to the end and answers how many bytes came:
 * through `wsgi.input.read(65536)` on the WSGI side, straight from the body
 * stream's reader on the raw side.
 */
export function upload(): Twins {
  const answer = (received: number): [string, Header[]] => [
    `${received}\n`,
    [["Content-Type", "text/plain; charset=utf-8"]],
  ];
  return {
    app: async (environ, startResponse) => {
      const input = environ["wsgi.input"];
      let received = 0;
      for (
        let piece = await input.read(65536);
        piece.byteLength > 0;
        piece = await input.read(65536)
      ) received += piece.byteLength;
      const [text, headers] = answer(received);
      startResponse("200 OK", headers);
      return [text];
    },
    raw: async (request) => {
      let received = 0;
      const reader = request.body?.getReader();
      for (let step = await reader?.read(); step && !step.done;) {
        received += step.value.byteLength;
        step = await reader!.read();
      }
      const [text, headers] = answer(received);
      return new Response(text, { headers });
    },
  };
}

/** How the HTTP driver loads a scenario. */
export type Drive =
  /** many requests over keep-alive connections, with wrk: req/s, p99 */
  | "wrk"
  /** one large response per measurement, read to the end: MB/s */
  | "download"
  /** one large request body per measurement: MB/s */
  | "upload";

/** One scenario of the HTTP benchmark. */
export interface HttpScenario {
  /** What the README table calls it. */
  title: string;
  /** How the client loads it. */
  drive: Drive;
  /** The size of one transfer, for `download` and `upload`. */
  bytes?: number;
  /**
   * wrk connections, when not `--connections`: 50 concurrent responses of
   * 10,000 chunks each would take longer than a round.
   */
  connections?: number;
  /** wrk's request target, when not `/`. */
  path?: string;
  /** Header lines wrk sends besides its own Host. */
  headers?: string[];
  /** A wrk Lua script (bench/wrk/), for a request that is not a GET. */
  script?: string;
  /** Whether `server.ts`, as the README runs it, is measured too. */
  cli?: boolean;
  /** The gateway's options, when not its defaults. */
  gateway?: GatewayOptions;
  /** The ratio to raw the issue asks for. */
  target: number;
  /** Peak RSS the issue asks the gateway to stay under, in MiB. */
  maxRssMiB?: number;
  /** Builds the twins; `bytes` is the transfer size where there is one. */
  twins(bytes: number): Twins;
}

const KiB = 1024;
const MiB = 1024 * KiB;

/** A browser's navigation request: 20 headers, all of them typical. */
const BROWSER_HEADERS: Header[] = [
  ["host", "127.0.0.1:8000"],
  [
    "user-agent",
    "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko Firefox/128.0",
  ],
  ["accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"],
  ["accept-language", "es-ES,es;q=0.8,en-US;q=0.5,en;q=0.3"],
  ["accept-encoding", "gzip, deflate, br, zstd"],
  ["referer", "http://127.0.0.1:8000/index.html"],
  ["cookie", "sessionid=9f8e7d6c5b4a; csrftoken=abcdef0123456789; theme=dark"],
  ["upgrade-insecure-requests", "1"],
  ["sec-fetch-dest", "document"],
  ["sec-fetch-mode", "navigate"],
  ["sec-fetch-site", "same-origin"],
  ["sec-fetch-user", "?1"],
  ["priority", "u=0, i"],
  ["cache-control", "max-age=0"],
  ["if-none-match", '"5d8c72a5edda8"'],
  ["if-modified-since", "Tue, 18 Nov 2025 10:00:00 GMT"],
  ["dnt", "1"],
  ["pragma", "no-cache"],
  ["x-requested-with", "XMLHttpRequest"],
  ["x-forwarded-for", "203.0.113.7"],
];

/** The HTTP scenarios, by the name given to `--scenario`. */
export const HTTP_SCENARIOS: Record<string, HttpScenario> = {
  lesson: {
    title: "the lesson's page (holamundo.ts)",
    drive: "wrk",
    target: 0.95,
    cli: true,
    twins: lesson,
  },
  lessonAsync: {
    title: "the lesson's page from an async app",
    drive: "wrk",
    target: 0.9,
    twins: lessonAsync,
  },
  post1k: {
    title: "a 1 KiB POST read through wsgi.input (keep-alive)",
    drive: "wrk",
    script: "bench/wrk/post1k.lua",
    target: 0.85,
    twins: post,
  },
  appReads: {
    title:
      "an app reading HTTP_HOST, a cookie and the query (10 browser headers)",
    drive: "wrk",
    path: "/?q=hola",
    // wrk sends its own Host.
    headers: BROWSER_HEADERS.filter(([name]) => name !== "host")
      .map(([name, value]) => `${name}: ${value}`),
    target: 0.9,
    twins: appReads,
  },
  page16k: {
    title: "a 16 KiB page",
    drive: "wrk",
    target: 0.95,
    twins: () => page(16 * KiB),
  },
  stream1g: {
    title: "1 GiB from a generator of 64 KiB chunks",
    drive: "download",
    bytes: 1024 * MiB,
    target: 0.9,
    maxRssMiB: 64,
    twins: (bytes) =>
      chunks(new Uint8Array(64 * KiB).fill(0x78), bytes / (64 * KiB)),
  },
  upload256m: {
    title: "256 MiB upload through wsgi.input.read(65536)",
    drive: "upload",
    bytes: 256 * MiB,
    // Past the 100 MiB limitRequestBody a gateway sets by default.
    gateway: { limitRequestBody: 0 },
    target: 0.9,
    twins: upload,
  },
  tiny10k: {
    title: "10,000 chunks of 16 bytes",
    drive: "wrk",
    connections: 4,
    target: 0.8,
    cli: true,
    twins: () => chunks(new Uint8Array(16).fill(0x78), 10_000),
  },
};

// ---------------------------------------------------------------------------
// In-process cases, for bench/micro_bench.ts and bench/profile.ts
// ---------------------------------------------------------------------------

/** A micro-benchmark case: twins, and a fresh request for each call. */
export interface MicroCase {
  /** The `deno bench` group, named after the request. */
  group: string;
  /** What answers the request. */
  twins: Twins;
  /** A fresh request, as `Deno.serve` makes one for each. */
  request(): Request;
}

const PAGE_URL = "http://127.0.0.1:8000/";

/** What `Deno.serve` passes along with each request. */
export const SERVE_INFO: Deno.ServeHandlerInfo = {
  remoteAddr: { transport: "tcp", hostname: "127.0.0.1", port: 54321 },
  completed: Promise.resolve(),
};

const upload64k = new Uint8Array(64 * KiB).fill(0x78);

/** The micro-benchmark cases, by the name bench/profile.ts takes. */
export const MICRO_CASES: Record<string, MicroCase> = {
  hello: {
    group: "hello world (the lesson's page)",
    twins: lesson(),
    request: () => new Request(PAGE_URL),
  },
  helloAsync: {
    group: "the lesson's page from an async app",
    twins: lessonAsync(),
    request: () => new Request(PAGE_URL),
  },
  headers20: {
    group: "the lesson's page, a request with 20 headers",
    twins: lesson(),
    request: () => new Request(PAGE_URL, { headers: BROWSER_HEADERS }),
  },
  chunks100: {
    group: "a generator body of 100 chunks of 1 KiB",
    twins: chunks(new Uint8Array(KiB).fill(0x78), 100),
    request: () => new Request(PAGE_URL),
  },
  post64k: {
    group: "a POST of 64 KiB read through wsgi.input.read(65536)",
    twins: upload(),
    request: () =>
      new Request(PAGE_URL, {
        method: "POST",
        body: upload64k,
        headers: {
          "content-type": "application/octet-stream",
          "content-length": String(upload64k.byteLength),
        },
      }),
  },
};

/** Reads a response body to the end, as a server sending it would. */
export async function drain(response: Response): Promise<void> {
  const reader = response.body?.getReader();
  while (reader && !(await reader.read()).done) {
    // Discarded: only the cost of producing the chunks counts.
  }
}
