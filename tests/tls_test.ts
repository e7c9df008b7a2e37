/**
 * TLS and HTTP/2 with real clients: `curl --http2` over TLS, `curl
 * --http2-prior-knowledge` in clear text (h2c), and `nghttp` (Debian's
 * nghttp2-client). Skips, saying so, when a client is not installed.
 *
 * What Deno lets the gateway know of the HTTP version: nothing (neither the
 * Request nor Deno.ServeHandlerInfo carries it), so SERVER_PROTOCOL and the
 * access log say HTTP/1.1 over h2 too; the test pins that down.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { Application } from "../mod.ts";
import { caCert, cert, key } from "./fixtures/tls.ts";
import { installed, listen } from "./_helpers.ts";

const hasCurl = await installed("curl");
const hasNghttp = await installed("nghttp");
if (!hasCurl) console.log("tls_test: curl is not installed: its tests skip");
if (!hasNghttp) {
  console.log(
    "tls_test: nghttp is not installed (apt-get install -y nghttp2-client): its test skips",
  );
}

const app: Application = (environ, startResponse) => {
  startResponse("200 OK", [["Content-Type", "text/plain"]]);
  if (environ.PATH_INFO === "/stream") {
    return (async function* () {
      for (let i = 1; i <= 3; i++) {
        yield `chunk ${i}\n`;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    })();
  }
  return [`${environ["wsgi.url_scheme"]} ${environ.SERVER_PROTOCOL}\n`];
};

async function client(
  tool: string,
  args: string[],
): Promise<{ out: string; err: string }> {
  const { code, stdout, stderr } = await new Deno.Command(tool, { args })
    .output();
  const err = new TextDecoder().decode(stderr);
  assert.equal(code, 0, err);
  return { out: new TextDecoder().decode(stdout), err };
}

async function withCa<T>(body: (ca: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "denowsgi-tls-" });
  try {
    await Deno.writeTextFile(`${dir}/ca.pem`, caCert);
    return await body(`${dir}/ca.pem`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test({
  name:
    "tls: curl --http2 over TLS: h2 by ALPN, wsgi.url_scheme https, a stream",
  ignore: !hasCurl,
  async fn() {
    const log: string[] = [];
    await using server = listen(app, {
      cert,
      key,
      accessLog: (l) => log.push(l),
    });
    await withCa(async (ca) => {
      const url = `https://localhost:${server.port}`;
      const head = ["-sS", "--http2", "--cacert", ca, "-w", "%{http_version}"];
      assert.deepEqual(
        (await client("curl", [...head, `${url}/`])).out,
        "https HTTP/1.1\n2",
      );
      assert.equal(
        (await client("curl", [...head, `${url}/stream`])).out,
        "chunk 1\nchunk 2\nchunk 3\n2",
      );
    });
    // What the gateway can know: Deno does not say the request came over h2.
    assert.match(log[0], /"GET \/ HTTP\/1\.1" 200 /);
  },
});

Deno.test({
  name: "tls: curl --http2-prior-knowledge in clear text (h2c)",
  ignore: !hasCurl,
  async fn() {
    await using server = listen(app, { accessLog: false });
    const { out } = await client("curl", [
      "-sS",
      "--http2-prior-knowledge",
      "-w",
      "%{http_version}",
      `${server.url}/stream`,
    ]);
    assert.equal(out, "chunk 1\nchunk 2\nchunk 3\n2");
  },
});

Deno.test("tls: a unix socket given a certificate serves plain HTTP, and wsgi.url_scheme says http", async () => {
  const { serve } = await import("../mod.ts");
  // The one socket path deno.json lets the tests use for this.
  const path = "/tmp/denowsgi-scheme-test.sock";
  await Deno.remove(path).catch(() => {});
  await using _server = serve(app, { path, cert, key, onListen() {} });
  using conn = await Deno.connect({ transport: "unix", path });
  const encoder = new TextEncoder();
  await conn.write(
    encoder.encode("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
  );
  let reply = "";
  const buffer = new Uint8Array(4096);
  for (let n; (n = await conn.read(buffer)) !== null;) {
    reply += new TextDecoder().decode(buffer.subarray(0, n));
  }
  assert.match(reply, /^HTTP\/1\.1 200 [^]*\r\n\r\nhttp HTTP\/1\.1\n$/);
});

Deno.test({
  name: "tls: nghttp over TLS, the stream's frames as they come",
  ignore: !hasNghttp,
  async fn() {
    await using server = listen(app, { cert, key });
    // nghttp has no CA option; the test certificate is checked by curl above.
    const { out } = await client("nghttp", [
      "-v",
      `https://localhost:${server.port}/stream`,
    ]);
    assert.match(out, /recv \(stream_id=\d+\) :status: 200/);
    // Each chunk in a DATA frame of its own, then the empty END_STREAM one.
    assert.match(
      out,
      /chunk 1\n.*recv DATA frame <length=8[^]*chunk 2\n.*recv DATA frame <length=8[^]*chunk 3\n.*recv DATA frame <length=8[^]*END_STREAM/,
    );
  },
});
