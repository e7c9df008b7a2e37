/**
 * proxyFix through the public test client: each header, hop counting, and
 * values a client writes itself never winning.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { Environ } from "../mod.ts";
import { ORIGINAL_KEY, proxyFix, type ProxyFixOptions } from "../proxy.ts";
import { Client } from "../testing.ts";
import { listen } from "./_helpers.ts";

const KEYS = [
  "REMOTE_ADDR",
  "wsgi.url_scheme",
  "HTTP_HOST",
  "SERVER_NAME",
  "SERVER_PORT",
  "SCRIPT_NAME",
  "PATH_INFO",
] as const;

/** What the app saw of the keys proxyFix may change, and the originals. */
async function seen(
  options: ProxyFixOptions,
  headers: Record<string, string>,
): Promise<Record<string, unknown>> {
  const client = new Client(
    proxyFix((environ: Environ, startResponse) => {
      const seen: Record<string, unknown> = {};
      for (const key of KEYS) seen[key] = environ[key];
      seen.orig = environ[ORIGINAL_KEY];
      startResponse("200 OK", [["Content-Type", "application/json"]]);
      return [JSON.stringify(seen)];
    }, options),
    { remoteAddr: "10.0.0.2", baseUrl: "http://upstream:8000" },
  );
  return (await client.get("/x", { headers })).json();
}

const GATEWAY = {
  REMOTE_ADDR: "10.0.0.2",
  "wsgi.url_scheme": "http",
  HTTP_HOST: "upstream:8000",
  SERVER_NAME: "upstream",
  SERVER_PORT: "8000",
  SCRIPT_NAME: "",
};

const ALL = {
  "X-Forwarded-For": "203.0.113.7",
  "X-Forwarded-Proto": "https",
  "X-Forwarded-Host": "example.com",
  "X-Forwarded-Port": "8443",
  "X-Forwarded-Prefix": "/app/",
};

Deno.test("proxyFix: trusts nothing by default", async () => {
  const { orig, PATH_INFO: _, ...environ } = await seen({}, ALL);
  assert.deepEqual(environ, GATEWAY);
  assert.deepEqual(orig, GATEWAY);
});

Deno.test("proxyFix: X-Forwarded-For sets REMOTE_ADDR, the original kept", async () => {
  const environ = await seen({ for: 1 }, ALL);
  assert.equal(environ.REMOTE_ADDR, "203.0.113.7");
  assert.equal(environ["wsgi.url_scheme"], "http");
  assert.deepEqual(environ.orig, GATEWAY);
});

Deno.test("proxyFix: X-Forwarded-Proto sets wsgi.url_scheme; anything but http(s) is ignored", async () => {
  assert.equal((await seen({ proto: 1 }, ALL))["wsgi.url_scheme"], "https");
  const odd = await seen({ proto: 1 }, { "X-Forwarded-Proto": "gopher" });
  assert.equal(odd["wsgi.url_scheme"], "http");
});

Deno.test("proxyFix: X-Forwarded-Host sets HTTP_HOST, SERVER_NAME and SERVER_PORT", async () => {
  const environ = await seen({ host: 1 }, {
    "X-Forwarded-Host": "example.com:9000",
  });
  assert.deepEqual(
    [environ.HTTP_HOST, environ.SERVER_NAME, environ.SERVER_PORT],
    ["example.com:9000", "example.com", "9000"],
  );
  const https = await seen({ host: 1, proto: 1 }, ALL);
  assert.deepEqual(
    [https.HTTP_HOST, https.SERVER_NAME, https.SERVER_PORT],
    ["example.com", "example.com", "443"],
  );
  const path = await seen({ host: 1 }, { "X-Forwarded-Host": "evil/x" });
  assert.equal(
    path.HTTP_HOST,
    "upstream:8000",
    "a host with a path is ignored",
  );
});

Deno.test("proxyFix: X-Forwarded-Port sets SERVER_PORT and the port in HTTP_HOST", async () => {
  const environ = await seen({ host: 1, port: 1 }, ALL);
  assert.deepEqual(
    [environ.HTTP_HOST, environ.SERVER_NAME, environ.SERVER_PORT],
    ["example.com:8443", "example.com", "8443"],
  );
});

Deno.test("proxyFix: X-Forwarded-Prefix sets SCRIPT_NAME, PATH_INFO untouched", async () => {
  const environ = await seen({ prefix: 1 }, ALL);
  assert.equal(environ.SCRIPT_NAME, "/app");
  assert.equal(environ.PATH_INFO, "/x");
  // Beyond printable ASCII a header's bytes are not the gateway's UTF-8
  // paths: such a prefix is ignored, as a malformed one is.
  const raw = await seen({ prefix: 1 }, { "X-Forwarded-Prefix": "/caf\u00e9" });
  assert.equal(raw.SCRIPT_NAME, "");
});

Deno.test("proxyFix: RFC 7239 Forwarded gives for, proto and host", async () => {
  const environ = await seen({ forwarded: 1 }, {
    Forwarded: 'for="[2001:db8::1]:4711";proto=https;host="example.com"',
    "X-Forwarded-For": "198.51.100.9",
  });
  assert.deepEqual(
    [environ.REMOTE_ADDR, environ["wsgi.url_scheme"], environ.HTTP_HOST],
    ["2001:db8::1", "https", "example.com"],
  );
  const two = await seen({ forwarded: 2 }, {
    Forwarded: "for=6.6.6.6, for=192.0.2.60:1234;proto=http, for=10.0.0.1",
  });
  assert.equal(two.REMOTE_ADDR, "192.0.2.60");
});

Deno.test("proxyFix: counts hops from the end; a client's extra values never win", async () => {
  const chain = { "X-Forwarded-For": "6.6.6.6, 203.0.113.7, 10.0.0.1" };
  assert.equal((await seen({ for: 1 }, chain)).REMOTE_ADDR, "10.0.0.1");
  assert.equal((await seen({ for: 2 }, chain)).REMOTE_ADDR, "203.0.113.7");
  // Fewer values than trusted hops: the header did not pass every proxy.
  const short = await seen({ for: 2 }, { "X-Forwarded-For": "6.6.6.6" });
  assert.equal(short.REMOTE_ADDR, "10.0.0.2");
  const spoofed = await seen({ proto: 1, host: 1 }, {
    "X-Forwarded-Proto": "https, http",
    "X-Forwarded-Host": "evil.example, example.com",
  });
  assert.deepEqual(
    [spoofed["wsgi.url_scheme"], spoofed.HTTP_HOST],
    ["http", "example.com"],
  );
});

Deno.test("proxyFix: with Forwarded trusted, X-Forwarded-For is not read", async () => {
  const environ = await seen({ forwarded: 1, for: 1 }, {
    "X-Forwarded-For": "6.6.6.6",
  });
  assert.equal(environ.REMOTE_ADDR, "10.0.0.2");
});

Deno.test("proxyFix: a hop count must be a whole number", () => {
  assert.throws(() => proxyFix(() => [], { for: -1 }), RangeError);
  assert.throws(() => proxyFix(() => [], { for: 1.5 }), RangeError);
});

Deno.test("proxyFix: a forwarded client that is no IP address is not trusted", async () => {
  const one = { for: 1, proto: 1, host: 1, port: 1 };
  for (
    const bad of [
      "not-an-ip",
      "1.2.3.4, <script>",
      "unknown",
      "_hidden",
      "300.1.1.1",
      "1.2.3",
      "1.2.3.4:99999",
      "1.2.3.4:0",
      "[::1",
      "[::1]x",
      "::g",
      "",
    ]
  ) {
    const environ = await seen(one, { "X-Forwarded-For": bad });
    assert.equal(environ.REMOTE_ADDR, "10.0.0.2", bad);
  }
  for (
    const [good, address] of [
      ["203.0.113.7", "203.0.113.7"],
      ["<script>, 203.0.113.7:4711", "203.0.113.7"],
      ["2001:db8::1", "2001:db8::1"],
      ["[2001:db8::1]:443", "2001:db8::1"],
      ["::ffff:1.2.3.4", "::ffff:1.2.3.4"],
    ]
  ) {
    const environ = await seen(one, { "X-Forwarded-For": good });
    assert.equal(environ.REMOTE_ADDR, address, good);
  }
});

Deno.test("proxyFix: a forwarded port outside 1-65535 is not trusted", async () => {
  for (const bad of ["99999", "0", "65536", "-1", "80a", "1e3"]) {
    const environ = await seen({ port: 1 }, { "X-Forwarded-Port": bad });
    assert.equal(environ.SERVER_PORT, "8000", bad);
    assert.equal(environ.HTTP_HOST, "upstream:8000", bad);
    const host = await seen({ host: 1 }, { "X-Forwarded-Host": `x:${bad}` });
    assert.equal(host.HTTP_HOST, "upstream:8000", bad);
  }
  const good = await seen({ port: 1 }, { "X-Forwarded-Port": "65535" });
  assert.equal(good.SERVER_PORT, "65535");
});

Deno.test("proxyFix: a Forwarded for= that is no address is not trusted", async () => {
  const environ = await seen({ forwarded: 1 }, {
    Forwarded: 'for="<script>";proto=https',
  });
  assert.equal(environ.REMOTE_ADDR, "10.0.0.2");
  assert.equal(environ["wsgi.url_scheme"], "https");
  const v6 = await seen({ forwarded: 1 }, {
    Forwarded: 'for="[2001:db8::7]:4711"',
  });
  assert.equal(v6.REMOTE_ADDR, "2001:db8::7");
});

Deno.test("proxyFix: allowFrom trusts the headers of those peers only; a peer with no address is trusted", async () => {
  const headers = { "X-Forwarded-For": "203.0.113.7" };
  const from = async (remoteAddr: string | undefined, allowFrom: string[]) => {
    const app = proxyFix((environ: Environ, startResponse) => {
      startResponse("200 OK", [["Content-Type", "text/plain"]]);
      return [String(environ.REMOTE_ADDR)];
    }, { for: 1, allowFrom });
    const client = new Client(
      remoteAddr === undefined
        ? (environ, startResponse) => {
          delete environ.REMOTE_ADDR;
          return app(environ, startResponse);
        }
        : app,
      remoteAddr === undefined ? {} : { remoteAddr },
    );
    return (await client.get("/", { headers })).text;
  };
  assert.equal(await from("127.0.0.1", ["127.0.0.1", "::1"]), "203.0.113.7");
  assert.equal(await from("::1", ["127.0.0.1", "::1"]), "203.0.113.7");
  assert.equal(await from("::ffff:127.0.0.1", ["127.0.0.1"]), "203.0.113.7");
  assert.equal(await from("10.0.0.9", ["127.0.0.1", "::1"]), "10.0.0.9");
  assert.equal(await from("10.0.0.9", ["*"]), "203.0.113.7");
  assert.equal(await from(undefined, ["127.0.0.1"]), "203.0.113.7");
});

Deno.test("proxyFix: the access log shows the client the application sees", async () => {
  const logged: string[] = [];
  await using server = listen(
    proxyFix((_environ, startResponse) => {
      startResponse("200 OK", [["Content-Type", "text/plain"]]);
      return ["ok"];
    }, { for: 1 }),
    { accessLog: (line) => logged.push(line) },
  );
  await (await fetch(server.url, {
    headers: { "X-Forwarded-For": "203.0.113.7" },
  })).text();
  await (await fetch(server.url)).text();
  assert.match(logged[0], /^203\.0\.113\.7 - - \[/);
  // A request with no trusted header shows the peer, as before.
  assert.match(logged[1], /^127\.0\.0\.1 - - \[/);
});
