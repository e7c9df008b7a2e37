/**
 * `-c FILE`, gunicorn's config file: the same settings as the flags, by
 * their long names in camelCase (`workers`, `accessLogfile`, `bind`), from
 * a JSON file or a TypeScript/JavaScript module's default export. The
 * settings become flags placed before the command line's own, so the
 * command line wins; a repeatable flag given there (`-b`) replaces the
 * file's list.
 *
 * @module
 */

import { flagNames, UsageError } from "./command.ts";

/**
 * A config file's settings: each key a flag's long name in camelCase, each
 * value what the flag takes (a list for a repeatable flag, `true` for a
 * flag that takes nothing).
 *
 * @example deploy/server.config.ts
 * ```ts
 * import type { ServerConfig } from "@denowsgi/wsgi/server";
 *
 * export default {
 *   bind: ["127.0.0.1:8000"],
 *   workers: 2,
 *   accessLogfile: "/var/log/app/access.log",
 * } satisfies ServerConfig;
 * ```
 */
export type ServerConfig = Record<
  string,
  string | number | boolean | string[]
>;

/** The flags a config file stands for, to go before the command line's. */
export async function configArgs(
  path: string,
  given: string[],
): Promise<string[]> {
  const settings = await load(path);
  const names = flagNames();
  const known = new Map(names.map(({ long }) => [camel(long), long]));
  // The command line's flags by their long names, `-b` as `--bind`.
  const long = new Map(
    names.flatMap(({ long, short }) => short ? [[short, long]] : []),
  );
  const flags = given.map((arg) => long.get(arg) ?? arg.split("=", 1)[0]);
  const args: string[] = [];
  for (const [key, value] of Object.entries(settings)) {
    const flag = known.get(key);
    if (flag === undefined) {
      throw new UsageError(`-c ${path}: unknown setting ${key}`);
    }
    if (flag === "--config") {
      throw new UsageError(`-c ${path}: a config file cannot name another`);
    }
    // What the command line gives, it gives whole.
    if (flags.includes(flag)) continue;
    for (const one of Array.isArray(value) ? value : [value]) {
      // `accessLog: false` is `--no-access-log`.
      const off = one === false &&
        known.get(`no${key[0].toUpperCase()}${key.slice(1)}`);
      if (off) args.push(off);
      else if (one !== false) {
        args.push(one === true ? flag : `${flag}=${one}`);
      }
    }
  }
  return args;
}

async function load(path: string): Promise<ServerConfig> {
  let settings: unknown;
  try {
    if (/\.json$/i.test(path)) {
      settings = JSON.parse(await Deno.readTextFile(path));
    } else {
      const url = new URL(path, `file://${Deno.cwd()}/`);
      settings = (await import(url.href)).default;
    }
  } catch (error) {
    const why = error instanceof Error ? error.name : String(error);
    throw new UsageError(`-c ${path}: cannot read it (${why})`);
  }
  if (typeof settings !== "object" || settings === null) {
    throw new UsageError(`-c ${path}: wants an object of settings`);
  }
  return settings as ServerConfig;
}

/** `--access-logfile` → `accessLogfile`. */
function camel(flag: string): string {
  return flag.slice(2).replace(/-(\w)/g, (_, letter) => letter.toUpperCase());
}
