/**
 * What `--reload` watches, as gunicorn's reloader: the `.ts`, `.js` and
 * `.py` files in the application's folder and below it (not in
 * `node_modules` or a folder whose name starts with a dot), and each
 * `--reload-extra-file`. The supervisor runs it, and on a change replaces
 * its workers by new ones, which import the code afresh.
 *
 * @module
 */

import type { Command } from "./command.ts";

/** Changes this close together are one: an editor's save is several events. */
export const DEBOUNCE_MS = 200;

const CODE = /\.(ts|js|py)$/;

/** The watchers of one supervisor; `close` ends them. */
export interface Watch {
  close(): void;
}

/**
 * Watches `command`'s files and calls `changed` with the first path that
 * changed, once changes have stopped for {@linkcode DEBOUNCE_MS}.
 */
export function watchApp(
  command: Command,
  changed: (path: string) => void,
): Watch {
  const folder = appFolder(command.module);
  // Each extra file by its folder: an editor that saves by writing a new
  // file and renaming it over the old would leave a watch on the file
  // itself watching the old one, gone.
  const extras = new Set(command.reloadExtraFiles.map(absolute));
  const flat = new Set([...extras].map(parent));
  const deep: string[] = [];
  if (folder !== undefined) {
    flat.add(folder);
    // The folder's own subfolders, each watched to the bottom; skipping
    // node_modules here spares the kernel a watch per package folder.
    for (const entry of Deno.readDirSync(folder)) {
      if (entry.isDirectory && !skipped(entry.name)) {
        deep.push(`${folder}/${entry.name}`);
      }
    }
  }
  const wanted = (path: string) =>
    extras.has(path) ||
    (folder !== undefined && CODE.test(path) &&
      path.startsWith(`${folder}/`) &&
      !path.slice(folder.length + 1).split("/").slice(0, -1).some(skipped));
  let timer: ReturnType<typeof setTimeout> | undefined;
  let first: string | undefined;
  const watchers = [
    Deno.watchFs([...flat], { recursive: false }),
    ...deep.length > 0 ? [Deno.watchFs(deep, { recursive: true })] : [],
  ];
  for (const watcher of watchers) {
    (async () => {
      try {
        for await (const event of watcher) {
          // Reading is no change: a new worker importing the app would
          // otherwise set off the next reload.
          if (!CHANGES.has(event.kind)) continue;
          const path = event.paths.find(wanted);
          if (path === undefined) continue;
          first ??= path;
          clearTimeout(timer);
          timer = setTimeout(() => {
            const path = first!;
            first = undefined;
            changed(path);
          }, DEBOUNCE_MS);
        }
      } catch {
        // Closed, or the folder removed: nothing more to watch.
      }
    })();
  }
  return {
    close() {
      clearTimeout(timer);
      for (const watcher of watchers) {
        try {
          watcher.close();
        } catch {
          // Already closed.
        }
      }
    },
  };
}

const CHANGES = new Set<Deno.FsEvent["kind"]>([
  "create",
  "modify",
  "remove",
  "rename",
]);

function skipped(name: string): boolean {
  return name === "node_modules" || name.startsWith(".");
}

/** The folder of the module a command names, absolute; none for a URL or the demo app. */
function appFolder(spec: string | undefined): string | undefined {
  if (spec === undefined) return;
  const [, path] = /^(.*?)(?::[A-Za-z_$][\w$]*)?$/.exec(spec)!;
  if (/^[a-z][a-z\d+.-]+:/i.test(path) && !path.startsWith("file:")) return;
  const file = path.startsWith("file:")
    ? decodeURIComponent(new URL(path).pathname)
    : path;
  return parent(absolute(file));
}

/** An absolute path without symbolic links, as the watcher reports them. */
function absolute(path: string): string {
  const full = path.startsWith("/") ? path : `${Deno.cwd()}/${path}`;
  try {
    return Deno.realPathSync(full);
  } catch {
    return full;
  }
}

function parent(path: string): string {
  return path.slice(0, path.lastIndexOf("/")) || "/";
}
