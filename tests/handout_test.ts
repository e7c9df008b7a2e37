/**
 * The Spanish handout (examples/README.md) against reality: the code it
 * shows is the example files, and its trace block of
 * `curl http://localhost:8000/python-logo.png` is what the gateway prints for
 * the same request. The request is rebuilt in process, with curl's headers
 * and a client address, so no server or process is needed; only the
 * client's port, the timings and the date may differ.
 *
 * Reading the handout and the examples needs `--allow-read=examples`; step
 * 8 runs the lesson's Python file on Pyodide, which reads its npm package.
 *
 * @module
 */

import assert from "node:assert/strict";
import { type Application, toFetchHandler } from "../mod.ts";
import { holaMundoApp } from "../examples/holamundo.ts";
import { appConLogo } from "../examples/holamundo-static.ts";
import { Client } from "../testing.ts";
import { loadPythonApp } from "../python.ts";

const EXAMPLES = new URL("../examples/", import.meta.url);

async function readExample(name: string): Promise<string> {
  return await Deno.readTextFile(new URL(name, EXAMPLES));
}

/** The fenced code blocks of a markdown text, in order. */
function codeBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/^```\w*\n([\s\S]*?)^```$/gm)].map((m) => m[1]);
}

/** What changes from run to run, written as a placeholder. */
function mask(line: string): string {
  return line
    .replace(/ started in \d+\.\d s$/, " started in T s")
    .replace(/ \(\+\d+\.\d\d ms\)$/, " (+T ms)")
    .replace(/, \d+\.\d\d ms in all$/, ", T ms in all")
    .replace(/\[\d\d\/\w{3}\/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\]/, "[DATE]")
    .replace(/REMOTE_PORT = "\d+"$/, 'REMOTE_PORT = "N"');
}

/** A source file as the handout shows it: without its doc comments. */
function withoutDocComments(source: string): string {
  return source.replace(/^[ \t]*\/\*\*[\s\S]*?\*\/\n/gm, "").trim() + "\n";
}

for (
  const file of ["holamundo.ts", "holamundo-wsgiref.ts", "holamundo-static.ts"]
) {
  Deno.test(`handout: the code it shows for ${file} is the file`, async () => {
    const source = withoutDocComments(await readExample(file));
    const blocks = codeBlocks(await readExample("README.md"));
    const firstLine = source.slice(0, source.indexOf("\n") + 1);
    const shown = blocks.find((block) => block.startsWith(firstLine));
    assert.equal(shown, source);
  });
}

Deno.test("handout: the trace of step 5 is what the gateway prints for curl's request", async () => {
  const blocks = codeBlocks(await readExample("README.md"));
  const command = blocks.find((b) => b.includes("server.ts --trace"));
  const trace = blocks.find((b) => b.includes("[trace #1]"));
  assert.ok(command && trace, "step 5 shows a --trace command and its trace");
  const [serving, ...shown] = trace.trimEnd().split("\n");
  const module = command.trim().split(" ").at(-1);
  assert.equal(
    serving,
    `Serving ${module} on http://localhost:8000/ (Ctrl+C to stop)`,
  );

  assert.deepEqual(shown.map(mask), (await curlLogo(holaMundoApp)).map(mask));
});

/**
 * What the gateway prints, trace and access log, for
 * `curl http://localhost:8000/python-logo.png`, rebuilt in process.
 */
async function curlLogo(app: Application): Promise<string[]> {
  const printed: string[] = [];
  const log = (line: string) => void printed.push(line);
  const handler = toFetchHandler(app, { trace: log, accessLog: log });
  const response = await handler(
    new Request("http://localhost:8000/python-logo.png", {
      headers: {
        Host: "localhost:8000",
        "User-Agent": "curl/7.88.1",
        Accept: "*/*",
      },
    }),
    {
      remoteAddr: { transport: "tcp", hostname: "127.0.0.1", port: 43706 },
      completed: Promise.resolve(),
    },
  );
  await response.bytes();
  return printed;
}

Deno.test("handout: step 9 shows the lesson's holamundo.py as it is", async () => {
  const source = await readExample("webapp/holamundo.py");
  const blocks = codeBlocks(await readExample("README.md"));
  assert.ok(blocks.includes(source));
});

Deno.test("handout: the trace of step 9 is what the gateway prints for the Python app", async () => {
  const blocks = codeBlocks(await readExample("README.md"));
  const command = blocks.find((b) => b.includes(".py:hola_mundo_app"));
  const trace = blocks.find((b) => b.startsWith("Python 3."));
  assert.ok(command && trace, "step 9 shows a .py command and its trace");
  const [started, serving, ...shown] = trace.trimEnd().split("\n");
  const module = command.trim().split(" ").at(-1);
  assert.match(
    started,
    /^Python 3\.\d+\.\d+ \(Pyodide\) started in \d+\.\d s$/,
  );
  assert.equal(
    serving,
    `Serving ${module} on http://localhost:8000/ (Ctrl+C to stop)`,
  );
  const app = await loadPythonApp("examples/webapp/holamundo.py", {
    callable: "hola_mundo_app",
  });
  assert.deepEqual(shown.map(mask), (await curlLogo(app)).map(mask));
});

Deno.test("handout: step 8 serves the logo under /static, and /python-logo.png is still step 4's page", async () => {
  const client = new Client(appConLogo);
  const logo = await client.get("/static/python-logo.png");
  assert.equal(logo.statusLine, "200 OK");
  assert.equal(logo.headers.get("content-type"), "image/png");
  assert.deepEqual(
    logo.body,
    await Deno.readFile(new URL("python-logo.png", EXAMPLES)),
  );
  assert.ok(logo.headers.get("etag") && logo.headers.get("last-modified"));
  const again = await client.get("/static/python-logo.png", {
    headers: { "If-None-Match": logo.headers.get("etag")! },
  });
  assert.equal(again.status, 304);

  const page = await client.get("/python-logo.png");
  const step4 = await new Client(holaMundoApp).get("/python-logo.png");
  assert.equal(page.statusLine, "200 OK");
  assert.equal(page.text, step4.text);

  const handout = await readExample("README.md");
  assert.ok(
    codeBlocks(handout).some((block) =>
      block.includes(
        "server.ts --static /static=examples examples/holamundo.ts:holaMundoApp",
      )
    ),
    "step 8 shows the --static command",
  );
});
