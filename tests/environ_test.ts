/**
 * The environ rules: how a Request becomes PEP 3333's environ. Unit tests go
 * through `toFetchHandler` with no socket; end-to-end tests run a real server
 * at port 0 and, where `fetch` hides or refuses what goes on the wire, write
 * raw HTTP/1.1 with `Deno.connect`.
 */

import assert from "node:assert/strict";
import {
  type Application,
  type Environ,
  type GatewayOptions,
  type ServeOptions,
  toFetchHandler,
} from "../mod.ts";
import { Client } from "../testing.ts";
import { collector, connect, echoKey, exchange, listen } from "./_helpers.ts";
import { caCert, cert, key } from "./fixtures/tls.ts";

// -- helpers ----------------------------------------------------------------

/**
 * An application that records the environ it is given and answers "ok".
 * On a real server it records a copy, taken during the request: Deno lets
 * go of a request once its whole response is handed over, and what the
 * environ had not yet read from it is gone (see the late-read tests).
 */
function recorder(seen: Environ[], copy = false): Application {
  return (environ, startResponse) => {
    seen.push(copy ? { ...environ } : environ);
    startResponse("200 OK", [["Content-Type", "text/plain"]]);
    return ["ok"];
  };
}

/** The environ the application sees for `request`, with no socket. */
async function environOf(
  request: Request | string,
  options?: GatewayOptions,
): Promise<Environ> {
  const seen: Environ[] = [];
  const { errors, lines } = collector();
  const handler = toFetchHandler(recorder(seen), options ?? { errors });
  const response = await handler(
    typeof request === "string" ? new Request(request) : request,
  );
  assert.equal(await response.text(), "ok");
  assert.equal(response.status, 200);
  assert.deepEqual(lines, []);
  assert.equal(seen.length, 1);
  return seen[0];
}

/**
 * Runs a real server at 127.0.0.1:0 with an application that records each
 * environ, lets `client` talk to it, shuts it down, and returns the environs.
 */
async function serveAndRecord(
  client: (port: number) => Promise<void>,
  options: Partial<ServeOptions> = {},
): Promise<Environ[]> {
  const seen: Environ[] = [];
  await using server = listen(recorder(seen, true), options);
  await client(server.port);
  return seen;
}

/** One raw GET to 127.0.0.1:port; returns the response and the local port. */
async function rawGet(
  port: number,
  target: string,
  headerLines: string[],
): Promise<{ response: string; localPort: number }> {
  const conn = await connect(port);
  const localPort = (conn.localAddr as Deno.NetAddr).port;
  const response = await exchange(
    conn,
    `GET ${target} HTTP/1.1\r\n${
      headerLines.map((line) => `${line}\r\n`).join("")
    }Connection: close\r\n\r\n`,
  );
  return { response, localPort };
}

/** Asserts a raw response is a 200 with the recorder's "ok" body. */
function assertOk(response: string): void {
  assert.match(response, /^HTTP\/1\.1 200 OK\r\n/);
  assert.ok(response.endsWith("\r\n\r\nok"), JSON.stringify(response));
}

// -- the request line --------------------------------------------------------

Deno.test("REQUEST_METHOD is the request's method", async () => {
  for (const method of ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]) {
    const environ = await environOf(
      new Request("http://localhost/", { method }),
    );
    assert.equal(environ.REQUEST_METHOD, method);
  }
});

Deno.test("SCRIPT_NAME is empty: the application is mounted at the root", async () => {
  assert.equal((await environOf("http://localhost/")).SCRIPT_NAME, "");
  assert.equal((await environOf("http://localhost/a/b")).SCRIPT_NAME, "");
});

Deno.test("PATH_INFO is the path when there is nothing to decode", async () => {
  assert.equal((await environOf("http://localhost/")).PATH_INFO, "/");
  assert.equal(
    (await environOf("http://localhost/python-logo.png")).PATH_INFO,
    "/python-logo.png",
  );
});

Deno.test("PATH_INFO is percent-decoded as UTF-8", async () => {
  const environ = await environOf("http://localhost/caf%C3%A9");
  assert.equal(environ.PATH_INFO, "/café");
  assert.equal(
    (await environOf("http://localhost/%E2%82%AC/%F0%9F%98%80")).PATH_INFO,
    "/€/😀",
  );
});

Deno.test("PATH_INFO decodes %2F into a slash", async () => {
  assert.equal((await environOf("http://localhost/a%2Fb")).PATH_INFO, "/a/b");
});

Deno.test("PATH_INFO keeps a malformed escape literally instead of throwing", async () => {
  assert.equal(
    (await environOf("http://localhost/a%zz/b%")).PATH_INFO,
    "/a%zz/b%",
  );
  // The valid escapes around a bad one are still decoded.
  assert.equal(
    (await environOf("http://localhost/caf%C3%A9/%zz/%2")).PATH_INFO,
    "/café/%zz/%2",
  );
});

Deno.test("PATH_INFO keeps a byte outside valid UTF-8 as U+DC80 + the byte (surrogateescape), never throwing", async () => {
  assert.equal((await environOf("http://localhost/%FF")).PATH_INFO, "/\uDCFF");
  assert.equal(
    (await environOf("http://localhost/a%FFb%C3%A9")).PATH_INFO,
    "/a\uDCFFbé",
  );
  // An overlong form, an encoded surrogate, a cut sequence: byte by byte.
  assert.equal(
    (await environOf("http://localhost/%C0%AF%ED%A0%80%E2%82")).PATH_INFO,
    "/\uDCC0\uDCAF\uDCED\uDCA0\uDC80\uDCE2\uDC82",
  );
  assert.equal(
    (await environOf("http://localhost/%F0%9F%98%80%FF")).PATH_INFO,
    "/😀\uDCFF",
  );
});

Deno.test("two different byte paths never give the same PATH_INFO", async () => {
  const targets = [
    "/%E9",
    "/%C3%A9",
    "/%25E9",
    "/%FF",
    "/%EF%BF%BD",
    "/%ED%B3%BF", // U+DCFF's own UTF-8, which is not valid UTF-8
    "/%C3",
    "/%C3%C3",
    "/%E9%E9",
  ];
  const seen = new Map<string, string>();
  for (const target of targets) {
    const { PATH_INFO } = await environOf(`http://localhost${target}`);
    assert.equal(
      seen.get(PATH_INFO),
      undefined,
      `${target} and ${seen.get(PATH_INFO)}`,
    );
    seen.set(PATH_INFO, target);
  }
});

Deno.test("REQUEST_URI and RAW_URI keep the raw target: path, ? and query exactly as sent", async () => {
  const target = "/caf%C3%A9/%zz/%FF?q=%20a+b&x=%FF&y=%2F";
  const environ = await environOf(`http://localhost${target}`);
  assert.equal(environ.REQUEST_URI, target);
  assert.equal(environ.RAW_URI, target);
  assert.equal(environ.PATH_INFO, "/café/%zz/\uDCFF");
});

Deno.test("REQUEST_URI is the path alone when there is no query", async () => {
  const environ = await environOf("http://localhost/caf%C3%A9");
  assert.equal(environ.REQUEST_URI, "/caf%C3%A9");
  assert.equal(environ.RAW_URI, "/caf%C3%A9");
});

Deno.test("QUERY_STRING is the raw query, not decoded and without the ?", async () => {
  const environ = await environOf(
    "http://localhost/search?q=%20a+b&lang=es&x=%FF&y=%2F",
  );
  assert.equal(environ.QUERY_STRING, "q=%20a+b&lang=es&x=%FF&y=%2F");
  assert.equal(environ.PATH_INFO, "/search");
});

Deno.test("QUERY_STRING is empty when the request has no query", async () => {
  assert.equal((await environOf("http://localhost/p")).QUERY_STRING, "");
  const bare = await environOf("http://localhost/p?");
  assert.equal(bare.QUERY_STRING, "");
  assert.equal(bare.PATH_INFO, "/p");
  assert.equal(bare.REQUEST_URI, "/p?");
});

Deno.test("a URL fragment reaches neither QUERY_STRING nor REQUEST_URI", async () => {
  const environ = await environOf("http://localhost/p?a=1#frag");
  assert.equal(environ.QUERY_STRING, "a=1");
  assert.equal(environ.REQUEST_URI, "/p?a=1");
  assert.equal(environ.PATH_INFO, "/p");
});

Deno.test("a real server keeps the raw target in REQUEST_URI and RAW_URI and decodes PATH_INFO", async () => {
  const target = "/caf%C3%A9/%zz/%FF/a%2Fb?q=%20a+b&x=%FF";
  const seen = await serveAndRecord(async (port) => {
    assertOk((await rawGet(port, target, ["Host: localhost"])).response);
  });
  assert.equal(seen.length, 1);
  const [environ] = seen;
  assert.equal(environ.REQUEST_URI, target);
  assert.equal(environ.RAW_URI, target);
  assert.equal(environ.PATH_INFO, "/café/%zz/\uDCFF/a/b");
  assert.equal(environ.QUERY_STRING, "q=%20a+b&x=%FF");
});

Deno.test("PATH_INFO keeps raw UTF-8 characters next to a malformed escape", async () => {
  // Deno puts raw UTF-8 bytes of the target into request.url as characters;
  // an emoji is two UTF-16 units that must not be decoded one by one.
  const seen = await serveAndRecord(async (port) => {
    assertOk(
      (await rawGet(port, "/🐍/café/%zz", ["Host: localhost"])).response,
    );
  });
  assert.equal(seen[0].PATH_INFO, "/🐍/café/%zz");
});

// -- headers -----------------------------------------------------------------

Deno.test("CONTENT_TYPE and CONTENT_LENGTH carry no HTTP_ prefix", async () => {
  const environ = await environOf(
    new Request("http://localhost/", {
      method: "POST",
      headers: { "Content-Type": "application/json", "Content-Length": "7" },
      body: '{"a":1}',
    }),
  );
  assert.equal(environ.CONTENT_TYPE, "application/json");
  assert.equal(environ.CONTENT_LENGTH, "7");
  assert.ok(!("HTTP_CONTENT_TYPE" in environ));
  assert.ok(!("HTTP_CONTENT_LENGTH" in environ));
});

Deno.test("CONTENT_TYPE and CONTENT_LENGTH on a real server come from the request", async () => {
  const seen = await serveAndRecord(async (port) => {
    const response = await fetch(`http://127.0.0.1:${port}/`, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: "a=1&b=2",
    });
    assert.equal(await response.text(), "ok");
  });
  const [environ] = seen;
  assert.equal(environ.CONTENT_TYPE, "application/x-www-form-urlencoded");
  assert.equal(environ.CONTENT_LENGTH, "7");
  assert.ok(!("HTTP_CONTENT_TYPE" in environ));
  assert.ok(!("HTTP_CONTENT_LENGTH" in environ));
});

Deno.test("CONTENT_TYPE and CONTENT_LENGTH are absent when the request has none", async () => {
  const environ = await environOf("http://localhost/");
  assert.ok(!("CONTENT_TYPE" in environ), "no CONTENT_TYPE key");
  assert.ok(!("CONTENT_LENGTH" in environ), "no CONTENT_LENGTH key");
  const seen = await serveAndRecord(async (port) => {
    assertOk((await rawGet(port, "/", ["Host: localhost"])).response);
  });
  assert.ok(!("CONTENT_TYPE" in seen[0]), "no CONTENT_TYPE key on a server");
  assert.ok(!("CONTENT_LENGTH" in seen[0]), "no CONTENT_LENGTH on a server");
});

Deno.test("every other header becomes HTTP_ and its name upper-cased, dashes as underscores", async () => {
  const environ = await environOf(
    new Request("http://localhost/", {
      headers: {
        "User-Agent": "curl/8.0",
        "accept": "text/html",
        "X-Custom-Thing": "valor",
        "X-Forwarded-For": "10.0.0.1",
      },
    }),
  );
  assert.equal(environ.HTTP_USER_AGENT, "curl/8.0");
  assert.equal(environ.HTTP_ACCEPT, "text/html");
  assert.equal(environ.HTTP_X_CUSTOM_THING, "valor");
  assert.equal(environ.HTTP_X_FORWARDED_FOR, "10.0.0.1");
  assert.ok(!("HTTP_X-CUSTOM-THING" in environ));
  assert.ok(!("x-custom-thing" in environ));
});

Deno.test("repeated headers are joined with a comma and a space", async () => {
  const headers = new Headers();
  headers.append("Accept", "text/html");
  headers.append("Accept", "application/json");
  const environ = await environOf(
    new Request("http://localhost/", { headers }),
  );
  assert.equal(environ.HTTP_ACCEPT, "text/html, application/json");
});

Deno.test("repeated headers on the wire are joined with a comma and a space", async () => {
  const seen = await serveAndRecord(async (port) => {
    const { response } = await rawGet(port, "/", [
      "Host: localhost",
      "X-Multi: uno",
      "X-Multi: dos",
      "X-Multi: tres",
    ]);
    assertOk(response);
  });
  assert.equal(seen[0].HTTP_X_MULTI, "uno, dos, tres");
});

Deno.test("environ: a Request with two cookie headers arrives joined with ; ", async () => {
  const response = await new Client(echoKey("HTTP_COOKIE")).request(
    new Request("http://localhost/", {
      headers: new Headers([["cookie", "a=1"], ["cookie", "b=2"]]),
    }),
  );
  assert.equal(response.text, "a=1; b=2");
});

Deno.test("header names containing an underscore are dropped", async () => {
  const environ = await environOf(
    new Request("http://localhost/", {
      headers: { "X_Forwarded_For": "6.6.6.6", "X-Real-IP": "10.0.0.1" },
    }),
  );
  assert.ok(!("HTTP_X_FORWARDED_FOR" in environ));
  assert.equal(environ.HTTP_X_REAL_IP, "10.0.0.1");
  assert.ok(!Object.values(environ).includes("6.6.6.6"));
});

Deno.test("an underscore header on the wire cannot pose as HTTP_X_FORWARDED_FOR", async () => {
  const seen = await serveAndRecord(async (port) => {
    assertOk(
      (await rawGet(port, "/alone", [
        "Host: localhost",
        "X_Forwarded_For: 6.6.6.6",
      ])).response,
    );
    assertOk(
      (await rawGet(port, "/both", [
        "Host: localhost",
        "X_Forwarded_For: 6.6.6.6",
        "X-Forwarded-For: 10.0.0.1",
        "X_Forwarded_For: 7.7.7.7",
      ])).response,
    );
  });
  assert.equal(seen.length, 2);
  const [alone, both] = seen;
  assert.ok(!("HTTP_X_FORWARDED_FOR" in alone));
  assert.equal(both.HTTP_X_FORWARDED_FOR, "10.0.0.1");
  for (const environ of seen) {
    const values = Object.values(environ);
    assert.ok(!values.includes("6.6.6.6") && !values.includes("7.7.7.7"));
  }
});

// -- server and client addresses --------------------------------------------

Deno.test("SERVER_NAME and SERVER_PORT come from the listening address, HTTP_HOST from Host", async () => {
  let port = 0;
  const seen = await serveAndRecord(async (p) => {
    port = p;
    assertOk(
      (await rawGet(p, "/", ["Host: example.test:1234"])).response,
    );
  });
  const [environ] = seen;
  assert.equal(environ.SERVER_NAME, "127.0.0.1");
  assert.equal(environ.SERVER_PORT, String(port));
  assert.equal(environ.HTTP_HOST, "example.test:1234");
});

Deno.test("SERVER_NAME and SERVER_PORT come from the URL's host when there is no server", async () => {
  const explicit = await environOf("http://example.com:8080/");
  assert.equal(explicit.SERVER_NAME, "example.com");
  assert.equal(explicit.SERVER_PORT, "8080");
  const http = await environOf("http://example.com/");
  assert.equal(http.SERVER_NAME, "example.com");
  assert.equal(http.SERVER_PORT, "80");
  const https = await environOf("https://example.com/");
  assert.equal(https.SERVER_NAME, "example.com");
  assert.equal(https.SERVER_PORT, "443");
});

Deno.test("environ: SERVER_NAME is localhost when serve is given localhost", async () => {
  await using listening = listen(echoKey("SERVER_NAME"), {
    hostname: "localhost",
  });
  const response = await fetch(`http://localhost:${listening.port}/`);
  assert.equal(await response.text(), "localhost");
});

Deno.test("HTTP_HOST is the Host header", async () => {
  const environ = await environOf(
    new Request("http://localhost:8000/", { headers: { Host: "other.test" } }),
  );
  assert.equal(environ.HTTP_HOST, "other.test");
});

Deno.test("HTTP_HOST falls back to the URL's authority when there is no Host header", async () => {
  const environ = await environOf("http://example.com:8080/");
  assert.equal(environ.HTTP_HOST, "example.com:8080");
});

Deno.test("REMOTE_ADDR and REMOTE_PORT come from the connection", async () => {
  let localPort = 0;
  const seen = await serveAndRecord(async (port) => {
    const result = await rawGet(port, "/", ["Host: localhost"]);
    assertOk(result.response);
    localPort = result.localPort;
  });
  const [environ] = seen;
  assert.equal(environ.REMOTE_ADDR, "127.0.0.1");
  assert.equal(environ.REMOTE_PORT, String(localPort));
});

Deno.test("REMOTE_ADDR, REMOTE_PORT and deno.info are absent without a connection", async () => {
  const environ = await environOf("http://localhost/");
  assert.ok(!("REMOTE_ADDR" in environ));
  assert.ok(!("REMOTE_PORT" in environ));
  assert.ok(!("deno.info" in environ));
});

Deno.test("deno.info is the connection info on a real server", async () => {
  // Deno's info is readable only while the request is open: look inside.
  let remote: Deno.NetAddr | undefined;
  await using server = listen((environ, startResponse) => {
    remote = environ["deno.info"]?.remoteAddr as Deno.NetAddr;
    startResponse("200 OK", [["Content-Type", "text/plain"]]);
    return ["ok"];
  });
  const result = await rawGet(server.port, "/", ["Host: localhost"]);
  assertOk(result.response);
  assert.ok(remote !== undefined, "deno.info is set");
  assert.equal(remote.hostname, "127.0.0.1");
  assert.equal(remote.port, result.localPort);
});

Deno.test("SERVER_PROTOCOL is HTTP/1.1", async () => {
  assert.equal(
    (await environOf("http://localhost/")).SERVER_PROTOCOL,
    "HTTP/1.1",
  );
  const seen = await serveAndRecord(async (port) => {
    assertOk((await rawGet(port, "/", ["Host: localhost"])).response);
  });
  assert.equal(seen[0].SERVER_PROTOCOL, "HTTP/1.1");
});

// -- what only a raw request on a socket shows --------------------------------

/** Raw requests only a socket can send, and the environ value each gives. */
const ON_THE_WIRE: [
  what: string,
  key: string,
  request: string,
  seen: string,
][] = [
  [
    "two Cookie lines arrive joined with ;",
    "HTTP_COOKIE",
    "GET / HTTP/1.1\r\nCookie: a=1\r\nCookie: b=2\r\n",
    "a=1; b=2",
  ],
  [
    "an HTTP/1.0 request has SERVER_PROTOCOL HTTP/1.1",
    "SERVER_PROTOCOL",
    "GET / HTTP/1.0\r\n",
    "HTTP/1.1",
  ],
  [
    "OPTIONS * arrives as PATH_INFO /*",
    "PATH_INFO",
    "OPTIONS * HTTP/1.1\r\n",
    "/*",
  ],
  [
    "an absolute-form target arrives as REQUEST_URI /z",
    "REQUEST_URI",
    "GET http://example.com/z HTTP/1.1\r\n",
    "/z",
  ],
];

for (const [what, key, request, seen] of ON_THE_WIRE) {
  Deno.test(`environ on the wire: ${what}`, async () => {
    await using listening = listen(echoKey(key));
    const conn = await connect(listening.port);
    const raw = await exchange(
      conn,
      `${request}Host: x\r\nConnection: close\r\n\r\n`,
    );
    assert.equal(raw.slice(raw.indexOf("\r\n\r\n") + 4), seen, raw);
  });
}

// -- the wsgi.* keys ---------------------------------------------------------

Deno.test("wsgi.version is [1, 0]", async () => {
  assert.deepEqual((await environOf("http://localhost/"))["wsgi.version"], [
    1,
    0,
  ]);
});

Deno.test("wsgi.url_scheme follows the request URL's scheme: http or https", async () => {
  assert.equal(
    (await environOf("http://localhost/"))["wsgi.url_scheme"],
    "http",
  );
  assert.equal(
    (await environOf("https://localhost/"))["wsgi.url_scheme"],
    "https",
  );
});

Deno.test("wsgi.url_scheme is http on a plain server", async () => {
  const seen = await serveAndRecord(async (port) => {
    assertOk((await rawGet(port, "/", ["Host: localhost"])).response);
  });
  assert.equal(seen[0]["wsgi.url_scheme"], "http");
});

Deno.test("wsgi.url_scheme is https on a TLS server", async () => {
  let port = 0;
  const seen = await serveAndRecord(async (p) => {
    port = p;
    // Through fetch, trusting the test CA.
    const client = Deno.createHttpClient({ caCerts: [caCert] });
    try {
      const response = await fetch(`https://localhost:${p}/fetched`, {
        client,
      });
      assert.equal(await response.text(), "ok");
    } finally {
      client.close();
    }
    // And raw HTTP/1.1 over TLS.
    const conn = await Deno.connectTls({
      hostname: "localhost",
      port: p,
      caCerts: [caCert],
    });
    assertOk(
      await exchange(
        conn,
        "GET /raw HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
      ),
    );
  }, { cert, key });
  assert.equal(seen.length, 2);
  for (const environ of seen) {
    assert.equal(environ["wsgi.url_scheme"], "https");
    assert.equal(environ.SERVER_NAME, "127.0.0.1");
    assert.equal(environ.SERVER_PORT, String(port));
  }
  assert.deepEqual(seen.map((e) => e.PATH_INFO), ["/fetched", "/raw"]);
});

Deno.test("wsgi.multithread and wsgi.run_once are false, wsgi.input_terminated is true", async () => {
  const environ = await environOf("http://localhost/");
  assert.equal(environ["wsgi.multithread"], false);
  assert.equal(environ["wsgi.run_once"], false);
  assert.equal(environ["wsgi.input_terminated"], true);
});

Deno.test("wsgi.multiprocess is false by default and true with {multiprocess: true}", async () => {
  const { errors } = collector();
  assert.equal(
    (await environOf("http://localhost/", { errors }))["wsgi.multiprocess"],
    false,
  );
  assert.equal(
    (await environOf("http://localhost/", { errors, multiprocess: true }))[
      "wsgi.multiprocess"
    ],
    true,
  );
  assert.equal(
    (await environOf("http://localhost/", { errors, multiprocess: false }))[
      "wsgi.multiprocess"
    ],
    false,
  );
});

Deno.test("wsgi.errors is the errors option when given", async () => {
  const { errors, lines } = collector();
  const environ = await environOf("http://localhost/", { errors });
  assert.equal(environ["wsgi.errors"], errors);
  environ["wsgi.errors"].write("una línea\n");
  environ["wsgi.errors"].writelines(["a", "b\n"]);
  assert.deepEqual(lines, ["una línea\n", "a", "b\n"]);
});

Deno.test("wsgi.errors defaults to a stream with write, writelines and flush", async () => {
  const seen: Environ[] = [];
  const response = await toFetchHandler(recorder(seen))(
    new Request("http://localhost/"),
  );
  assert.equal(await response.text(), "ok");
  const errors = seen[0]["wsgi.errors"];
  assert.equal(typeof errors.write, "function");
  assert.equal(typeof errors.writelines, "function");
  assert.equal(typeof errors.flush, "function");
});

Deno.test("serve passes the gateway options to every environ: errors and multiprocess", async () => {
  const { errors, lines } = collector();
  const seen = await serveAndRecord(async (port) => {
    assertOk((await rawGet(port, "/", ["Host: localhost"])).response);
  }, { errors, multiprocess: true });
  assert.equal(seen[0]["wsgi.errors"], errors);
  assert.equal(seen[0]["wsgi.multiprocess"], true);
  assert.deepEqual(lines, []);
});

// -- the deno.* keys and the object itself -----------------------------------

Deno.test("deno.request is the Request being served", async () => {
  const request = new Request("http://localhost/x", {
    headers: { "X-Trace": "1" },
  });
  const environ = await environOf(request);
  assert.equal(environ["deno.request"], request);
});

Deno.test("environ is a plain mutable object", async () => {
  const environ = await environOf("http://localhost/a?b=c");
  assert.equal(Object.getPrototypeOf(environ), Object.prototype);
  assert.ok(Object.isExtensible(environ));
  assert.ok(!Object.isFrozen(environ) && !Object.isSealed(environ));
  const keys = Object.keys(environ);
  for (
    const name of [
      "REQUEST_METHOD",
      "SCRIPT_NAME",
      "PATH_INFO",
      "QUERY_STRING",
      "SERVER_NAME",
      "SERVER_PORT",
      "SERVER_PROTOCOL",
      "wsgi.version",
      "wsgi.input",
    ]
  ) {
    assert.ok(keys.includes(name), `${name} is an own enumerable key`);
  }
  // What middleware does: shift the path, add keys, remove keys.
  environ.SCRIPT_NAME = "/a";
  environ.PATH_INFO = "";
  environ["myapp.user"] = "ana";
  delete environ.HTTP_HOST;
  assert.equal(environ.SCRIPT_NAME, "/a");
  assert.equal(environ.PATH_INFO, "");
  assert.equal(environ["myapp.user"], "ana");
  assert.ok(!("HTTP_HOST" in environ));
  const copy = { ...environ };
  assert.equal(copy.QUERY_STRING, "b=c");
});
