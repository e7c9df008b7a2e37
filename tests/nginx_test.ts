/**
 * A real nginx in front of the gateway, from deploy/nginx.conf with its
 * ports and paths filled in: run as a child (not a daemon) on loopback, to
 * a gateway in this process listening on TCP and on a unix socket, behind
 * proxyFix trusting one hop. Requests go through curl, whose source
 * address can be 127.0.0.2, so the client and nginx (127.0.0.1) differ.
 *
 * Skips, saying so, when nginx or curl is not installed.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { Application } from "../mod.ts";
import { proxyFix } from "../proxy.ts";
import { caCert, cert, key } from "./fixtures/tls.ts";
import { connect, installed, listen, startNginx } from "./_helpers.ts";
import environJson from "./fixtures/environ_json.ts";

const available = await installed("nginx", "-v") &&
  await installed("curl");
if (!available) {
  console.log(
    "nginx_test: skipped, nginx or curl is not installed (apt-get install -y nginx curl)",
  );
}

/** The streamed route's second chunk waits for this. */
let release = Promise.withResolvers<void>();

const app: Application = async (environ, startResponse) => {
  if (environ.PATH_INFO === "/upload") {
    let bytes = 0;
    for (
      let chunk;
      (chunk = await environ["wsgi.input"].read(1 << 16)).length;
    ) {
      bytes += chunk.length;
    }
    startResponse("200 OK", [["Content-Type", "text/plain"]]);
    return [`${bytes}`];
  }
  if (environ.PATH_INFO === "/stream") {
    startResponse("200 OK", [["Content-Type", "text/plain"]]);
    return (async function* () {
      yield "first\n";
      await release.promise;
      yield "second\n";
    })();
  }
  return environJson(environ, startResponse);
};
const proxied = proxyFix(app, {
  for: 1,
  proto: 1,
  host: 1,
  port: 1,
  prefix: 1,
});

const SOCKET = "/tmp/denowsgi-nginx-test.sock";

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  listener.close();
  return listener.addr.port;
}

async function curl(args: string[]): Promise<string> {
  const { code, stdout, stderr } = await new Deno.Command("curl", {
    args: ["-sS", "--max-time", "60", "--interface", "127.0.0.2", ...args],
  }).output();
  assert.equal(code, 0, new TextDecoder().decode(stderr));
  return new TextDecoder().decode(stdout);
}

Deno.test({
  name: "nginx: the recipe in deploy/nginx.conf, end to end",
  ignore: !available,
  async fn(t) {
    const dir = await Deno.makeTempDir({ prefix: "denowsgi-nginx-" });
    // nginx's workers may run as another user: let them in.
    await Deno.chmod(dir, 0o755);
    // A fixed path: the test permissions name it (net "unix:PATH").
    const socket = SOCKET;
    await Deno.remove(socket).catch(() => {});
    await using tcp = listen(proxied);
    // The unix socket's gateway is server.ts, as the recipe runs it: its
    // socket must let nginx's workers (nobody, www-data) in by itself.
    const unix = new Deno.Command("deno", {
      args: [
        "run",
        "--allow-net",
        "--allow-read",
        `--allow-write=${socket}`,
        "server.ts",
        "-b",
        `unix:${socket}`,
        "--proxy-hops",
        "1",
        "--no-access-log",
        "tests/fixtures/environ_json.ts",
      ],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const unixErrors = new Response(unix.stderr).text();
    const serving = unix.stdout.pipeThrough(new TextDecoderStream())
      .getReader();
    assert.match((await serving.read()).value ?? "", /^Serving /);
    await Deno.writeTextFile(`${dir}/ca.pem`, caCert);
    await Deno.writeTextFile(`${dir}/cert.pem`, cert);
    await Deno.writeTextFile(`${dir}/key.pem`, key);
    const port = freePort();
    const tlsPort = freePort();
    const { child: nginx, stderr } = await startNginx(
      "deploy/nginx.conf",
      dir,
      {
        SOCKET: socket,
        TCP_PORT: String(tcp.port),
        LISTEN_PORT: String(port),
        TLS_PORT: String(tlsPort),
        CERT: `${dir}/cert.pem`,
        KEY: `${dir}/key.pem`,
        HEADER_TIMEOUT: "1s",
      },
    );
    const base = `http://localhost:${port}`;
    try {
      await ready(port);

      await t.step(
        "the client's address and scheme reach the app; a spoofed hop is ignored",
        async () => {
          const seen = JSON.parse(
            await curl([
              "--cacert",
              `${dir}/ca.pem`,
              "-H",
              "X-Forwarded-For: 6.6.6.6",
              "-H",
              "X-Forwarded-Proto: gopher",
              "-H",
              "Forwarded: for=6.6.6.6",
              `https://localhost:${tlsPort}/hola`,
            ]),
          );
          assert.equal(seen.REMOTE_ADDR, "127.0.0.2");
          assert.equal(seen.scheme, "https");
          assert.equal(seen.HTTP_HOST, `localhost:${tlsPort}`);
          assert.equal(
            seen.orig.REMOTE_ADDR,
            "127.0.0.1",
            "nginx's own address",
          );
          assert.equal(seen.orig["wsgi.url_scheme"], "http");
        },
      );

      await t.step("the /app/ prefix mount: SCRIPT_NAME /app", async () => {
        const seen = JSON.parse(await curl([`${base}/app/hola`]));
        assert.deepEqual([seen.SCRIPT_NAME, seen.PATH_INFO], ["/app", "/hola"]);
        assert.equal(seen.scheme, "http");
      });

      await t.step("over the unix socket", async () => {
        const seen = JSON.parse(await curl([`${base}/unix/sock`]));
        assert.deepEqual([seen.PATH_INFO, seen.REMOTE_ADDR], [
          "/sock",
          "127.0.0.2",
        ]);
      });

      await t.step("a 64 MiB upload passes through", async () => {
        const size = 64 * 1024 * 1024;
        using file = await Deno.open(`${dir}/upload.bin`, {
          write: true,
          create: true,
        });
        await file.truncate(size);
        const text = await curl([
          "--data-binary",
          `@${dir}/upload.bin`,
          "-H",
          "Content-Type: application/octet-stream",
          `${base}/upload`,
        ]);
        assert.equal(text, String(size));
      });

      await t.step("a streamed response arrives chunk by chunk", async () => {
        release = Promise.withResolvers();
        const response = await fetch(`${base}/stream`);
        const reader = response.body!.pipeThrough(new TextDecoderStream())
          .getReader();
        // The app has not sent its second chunk yet: the first came unbuffered.
        assert.equal((await reader.read()).value, "first\n");
        release.resolve();
        let rest = "";
        for (let step; !(step = await reader.read()).done;) rest += step.value;
        assert.equal(rest, "second\n");
      });

      await t.step(
        "a slowloris connection is closed by nginx; the gateway keeps serving",
        async () => {
          const conn = await connect(port);
          const request = new TextEncoder().encode(
            "GET / HTTP/1.1\r\nHost: localhost\r\nX-Slow: ",
          );
          let closed = false;
          const reading = conn.read(new Uint8Array(1024)).then(
            () => closed = true,
            () => closed = true,
          );
          for (let i = 0; i < 600 && !closed; i++) {
            await conn.write(
              request.subarray(i % request.length, i % request.length + 1),
            )
              .catch(() => closed = true);
            await new Promise((resolve) => setTimeout(resolve, 50));
            if (i === 2) {
              // Meanwhile, others are served.
              assert.equal(
                JSON.parse(await curl([`${base}/x`])).PATH_INFO,
                "/x",
              );
            }
          }
          await reading;
          conn.close();
          assert.ok(
            closed,
            "nginx closed the connection that never finished its headers",
          );
        },
      );
    } finally {
      nginx.kill("SIGQUIT");
      await nginx.status;
      await stderr;
      unix.kill("SIGTERM");
      await unix.status;
      await unixErrors;
      await serving.cancel();
      await Deno.remove(dir, { recursive: true });
      await Deno.remove(socket).catch(() => {});
    }
  },
});

/** Waits (bounded) until nginx accepts connections. */
async function ready(port: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    try {
      (await connect(port)).close();
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }
  throw new Error("nginx did not start");
}
