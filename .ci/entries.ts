/**
 * Runs a deno subcommand on every entry point of the package, read from
 * deno.json's `exports` (the one list of them):
 *
 *     deno run --allow-read --allow-run=deno .ci/entries.ts doc --lint
 *     deno run --allow-read --allow-run=deno .ci/entries.ts check --doc
 *
 * @module
 */

import config from "../deno.json" with { type: "json" };

const entries = Object.values(config.exports);
const { code } = await new Deno.Command("deno", {
  args: [...Deno.args, ...entries],
  cwd: new URL("..", import.meta.url),
}).spawn().status;
Deno.exit(code);
