/**
 * `--reload` as a developer uses it: an app in a temporary folder, edited
 * while `server.ts --reload` serves it. The promise is about time ("within
 * a few seconds"), so the waits for a change to be served are bounded
 * generously (20 s for TypeScript, 60 s for Python on a busy machine),
 * never measured; every process started is killed and awaited.
 *
 * @module
 */

import assert from "node:assert/strict";
import { within } from "./_process.ts";
import { alive, ROOT, sleep, Supervised } from "./_supervised.ts";

const STACK_FRAME = /^\s+at \S/m;

/** A TypeScript app saying `text` and its pid, importing a word from lib/. */
function tsApp(text: string): string {
  return `import { word } from "./lib/word.ts";
export default (_environ: unknown, start: (status: string, headers: [string, string][]) => void) => {
  start("200 OK", [["Content-Type", "text/plain"]]);
  return [\`${text} \${word} by pid \${Deno.pid}\\n\`];
};
`;
}

/** The body of a GET on a fresh connection. */
async function get(url: URL): Promise<string> {
  using client = Deno.createHttpClient({ poolMaxIdlePerHost: 0 });
  const response = await within("an answer", fetch(url, { client }));
  const text = await response.text();
  assert.equal(response.status, 200, text);
  return text;
}

/** Polls `url` every 100 ms until its body matches `pattern`; fails after `seconds`. */
async function served(
  url: URL,
  pattern: RegExp,
  seconds: number,
): Promise<string> {
  let text = "";
  for (let i = 0; i < seconds * 10; i++) {
    text = await get(url);
    if (pattern.test(text)) return text;
    await sleep(100);
  }
  assert.fail(`still ${JSON.stringify(text)} after ${seconds} s`);
}

async function tsFolder(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "denowsgi-reload-" });
  await Deno.mkdir(`${dir}/lib`);
  await Deno.writeTextFile(
    `${dir}/lib/word.ts`,
    `export const word = "one";\n`,
  );
  await Deno.writeTextFile(`${dir}/app.ts`, tsApp("version 1"));
  return dir;
}

const FLAGS = ["--reload", "-b", "127.0.0.1:0", "--no-access-log"];

Deno.test("reload: an edit of the app or of a module under its folder is served; SIGTERM exits 0 and leaves no process", async () => {
  const dir = await tsFolder();
  try {
    await using server = new Supervised([...FLAGS, `${dir}/app.ts`]);
    const url = await server.serving();
    assert.match(await get(url), /^version 1 one by pid \d+\n$/);
    await Deno.writeTextFile(`${dir}/app.ts`, tsApp("version 2"));
    await served(url, /^version 2 one /, 20);
    await Deno.writeTextFile(
      `${dir}/lib/word.ts`,
      `export const word = "two";\n`,
    );
    await served(url, /^version 2 two /, 20);
    await server.wait("stderr", /^\[wsgi\] reload: .*word\.ts changed; /);
    server.child.kill("SIGTERM");
    assert.equal(await server.finish(), 0);
    assert.equal(server.stdout.at(-1), "Stopped.");
    for (const pid of server.started()) {
      assert.equal(await alive(pid), false, `worker ${pid} is gone`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("reload: a syntax error keeps the last good version serving, said in one line; the next change loads", async () => {
  const dir = await tsFolder();
  try {
    await using server = new Supervised([...FLAGS, `${dir}/app.ts`]);
    const url = await server.serving();
    const before = await get(url);
    await Deno.writeTextFile(
      `${dir}/app.ts`,
      tsApp("version 2").replace(
        "export default",
        "const broken = ;\nexport default",
      ),
    );
    const failed =
      /^\[wsgi\] reload: the new code did not load \(SyntaxError: .+app\.ts:2:\d+\)\); still serving the last good version$/;
    await server.wait("stderr", failed);
    // The same worker, the same text.
    assert.equal(await get(url), before);
    const stderr = server.stderr.join("\n");
    assert.doesNotMatch(stderr, STACK_FRAME);
    assert.equal(server.stderr.filter((line) => /Syntax/.test(line)).length, 1);
    await Deno.writeTextFile(`${dir}/app.ts`, tsApp("version 3"));
    await served(url, /^version 3 one /, 20);
    server.child.kill("SIGTERM");
    assert.equal(await server.finish(), 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Why Python cannot run here, if it cannot: python.ts and Pyodide's package must load. */
const noPython = await import("../python.ts").then(
  () => undefined,
  (error) => `python.ts cannot load here: ${error}`,
);
if (noPython) console.log(`reload's .py test skipped: ${noPython}`);

Deno.test({
  name: "reload: an edit of a .py app is served by a new Pyodide",
  ignore: noPython !== undefined,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "denowsgi-reload-" });
    try {
      const lesson = new URL("examples/webapp/holamundo.py", ROOT);
      const source = await Deno.readTextFile(lesson);
      await Deno.writeTextFile(`${dir}/holamundo.py`, source);
      await using server = new Supervised([
        ...FLAGS,
        `${dir}/holamundo.py:hola_mundo_app`,
      ]);
      const url = await server.serving();
      assert.match(await get(url), /Hola mundo!/);
      await Deno.writeTextFile(
        `${dir}/holamundo.py`,
        source.replace("Hola mundo!", "Hola Deno!"),
      );
      await served(url, /Hola Deno!/, 60);
      server.child.kill("SIGTERM");
      assert.equal(await server.finish(), 0);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("reload: --help says it is for development", async () => {
  const { stdout } = await new Deno.Command("deno", {
    args: ["run", "--allow-read", "server.ts", "--help"],
    cwd: ROOT,
    stdin: "null",
  }).output();
  assert.match(
    new TextDecoder().decode(stdout),
    /^ {2}--reload +for development, not for production/m,
  );
});
