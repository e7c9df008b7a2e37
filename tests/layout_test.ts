/**
 * The shape of the code, checked: no import cycle (type imports included),
 * `gateway/` is the path of one request and imports only the contract and
 * itself, the contract imports nothing, and no source module is past 800
 * lines. Imports are read from the source text: every relative specifier
 * after `from` or in `import(…)`.
 *
 * @module
 */

import assert from "node:assert/strict";

const ROOT = new URL("..", import.meta.url);
const SOURCE_DIRS = ["", "gateway/", "cli/", "python/"];

/** Every source module (tests, benchmarks and examples aside). */
async function sources(): Promise<string[]> {
  const found: string[] = [];
  for (const dir of SOURCE_DIRS) {
    try {
      for await (const entry of Deno.readDir(new URL(dir, ROOT))) {
        if (entry.isFile && entry.name.endsWith(".ts")) {
          found.push(dir + entry.name);
        }
      }
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  }
  return found.sort();
}

const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(\s*)"(\.{1,2}\/[^"]+)"/g;

/** The modules `path` imports, as paths from the root. */
async function importsOf(path: string): Promise<string[]> {
  const text = await Deno.readTextFile(new URL(path, ROOT));
  const base = new URL(path, ROOT);
  return [...text.matchAll(SPECIFIER)].map(([, specifier]) =>
    new URL(specifier, base).pathname.slice(ROOT.pathname.length)
  );
}

async function graph(): Promise<Map<string, string[]>> {
  const edges = new Map<string, string[]>();
  for (const path of await sources()) edges.set(path, await importsOf(path));
  return edges;
}

Deno.test("layout: no import cycle, type imports included", async () => {
  const edges = await graph();
  const cycles: string[] = [];
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const visit = (path: string) => {
    if (state.get(path) === "done") return;
    if (state.get(path) === "open") {
      cycles.push([...stack.slice(stack.indexOf(path)), path].join(" → "));
      return;
    }
    state.set(path, "open");
    stack.push(path);
    for (const next of edges.get(path) ?? []) visit(next);
    stack.pop();
    state.set(path, "done");
  };
  for (const path of edges.keys()) visit(path);
  assert.deepEqual(cycles, []);
});

Deno.test("layout: gateway/ imports only the contract and itself; the contract imports nothing", async () => {
  const edges = await graph();
  const outside: string[] = [];
  for (const [path, imports] of edges) {
    if (!path.startsWith("gateway/")) continue;
    for (const target of imports) {
      if (target !== "types.ts" && !target.startsWith("gateway/")) {
        outside.push(`${path} → ${target}`);
      }
    }
  }
  assert.deepEqual(outside, []);
  assert.deepEqual(edges.get("types.ts"), []);
});

Deno.test("layout: no source module is past 800 lines", async () => {
  const long: string[] = [];
  for (const path of await sources()) {
    const lines = (await Deno.readTextFile(new URL(path, ROOT))).split("\n");
    if (lines.length > 800) long.push(`${path}: ${lines.length}`);
  }
  assert.deepEqual(long, []);
});

Deno.test("layout: each option's default is written once, in gateway/options.ts; README, docs and the contract agree", async () => {
  const { SETTINGS } = await import("../gateway/options.ts");
  const readme = await Deno.readTextFile(new URL("README.md", ROOT));
  const limits = await Deno.readTextFile(new URL("docs/limits.md", ROOT));
  const contract = await Deno.readTextFile(new URL("types.ts", ROOT));
  const MiB = 1024 * 1024;
  for (const setting of SETTINGS) {
    if (!("default" in setting)) continue;
    const n = setting.default;
    // The ways the prose writes a default: off, 100 MiB, 8192 B, 60 s.
    const written = n === 0
      ? ["off", "Off"]
      : setting.unit === "seconds"
      ? [`${n} s`, `Default ${n}`]
      : n % MiB === 0
      ? [`${n / MiB} MiB`]
      : [`${n} B`, `${n} bytes`, `Default ${n}`];
    for (
      const [name, text] of [["README.md", readme], ["docs/limits.md", limits]]
    ) {
      const row = text.split("\n").find((line) =>
        line.startsWith("|") && line.includes(`\`${setting.flag}\``)
      );
      assert.ok(row, `${name} has a row for ${setting.flag}`);
      assert.ok(
        written.some((form) => row.includes(form)),
        `${name} says ${setting.flag} defaults to ${n}: ${row}`,
      );
    }
    const doc = new RegExp(
      String.raw`/\*\*((?:(?!\*/)[^])*)\*/\s*${setting.key}\?: number;`,
    ).exec(contract);
    assert.ok(doc, `types.ts documents ${setting.key}`);
    assert.ok(
      written.some((form) =>
        doc[1].replace(/\s*\n\s*\*\s*/g, " ").includes(form)
      ),
      `types.ts says ${setting.key} defaults to ${n}`,
    );
  }
});

Deno.test("layout: the entry points are deno.json's exports; the import map and the README follow them", async () => {
  const config = JSON.parse(
    await Deno.readTextFile(new URL("deno.json", ROOT)),
  );
  const readme = await Deno.readTextFile(new URL("README.md", ROOT));
  for (const [entry, path] of Object.entries<string>(config.exports)) {
    const name = config.name + entry.slice(1);
    assert.equal(config.imports[name], path, `imports maps ${name}`);
    assert.ok(readme.includes(path.slice(2)), `README names ${path}`);
  }
  const mapped = Object.keys(config.imports).filter((name) =>
    name.startsWith(config.name)
  );
  assert.equal(mapped.length, Object.keys(config.exports).length);
});
