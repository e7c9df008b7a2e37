/**
 * Django's default project on the gateway, as a user runs it: the commands
 * of docs/python.md's Django section, read from the page and run as written
 * there (in a temporary folder, on a free port), then the admin on the
 * wire: the welcome page, the login page, a wrong password, a login, the
 * admin's index, a group added through its form; last, CPython reads the
 * group's row in `mysite/db.sqlite3` and CPython's Django accepts the
 * password the gateway's Python stored.
 *
 * It needs Debian's `python3-django` (CI installs it when it runs as root);
 * without it, it skips, saying so. Its commands run `/usr/bin/python3`,
 * Debian's, which has Django where `python3` on the PATH may not.
 *
 * @module
 */

import assert from "node:assert/strict";
import { runToEnd, ServerProcess, within } from "./_process.ts";

const DJANGO = "/usr/lib/python3/dist-packages/django";
const CPYTHON = "/usr/bin/python3";
const SERVER_TS = new URL("../server.ts", import.meta.url).pathname;
const DOCS = new URL("../docs/python.md", import.meta.url);

const hasDjango = (() => {
  try {
    return Deno.statSync(DJANGO).isDirectory;
  } catch {
    return false;
  }
})();
if (!hasDjango) {
  console.log(
    `django tests skipped: ${DJANGO} is missing (apt-get install -y python3-django)`,
  );
}

/** One line of a shell block: its variables (exported ones too), its words. */
interface ShellLine {
  env: Record<string, string>;
  argv: string[];
}

/**
 * A shell block of plain words read as the shell reads it: `\` joins
 * lines, `#` starts a comment, `NAME=value` before a command is its
 * variable, `export NAME=value` is every later command's.
 */
function shellLines(block: string): ShellLine[] {
  const exported: Record<string, string> = {};
  const lines: ShellLine[] = [];
  for (const line of block.replaceAll("\\\n", " ").split("\n")) {
    const text = line.replace(/#.*/, "");
    assert.doesNotMatch(text, /['"`$;&|<>()*?]/, `plain words only: ${text}`);
    const words = text.trim().split(/\s+/).filter(Boolean);
    const env = words[0] === "export" ? exported : { ...exported };
    if (words[0] === "export") words.shift();
    while (/^[A-Z_]+=/.test(words[0] ?? "")) {
      const [name, value] = words.shift()!.split(/=(.*)/s, 2);
      env[name] = value;
    }
    if (words.length > 0) lines.push({ env, argv: words });
  }
  return lines;
}

/** docs/python.md's Django section: its Python file and its shell lines. */
async function documented(): Promise<{ file: string; lines: ShellLine[] }> {
  const page = await Deno.readTextFile(DOCS);
  const start = page.indexOf("### Django\n");
  assert.ok(start !== -1, "docs/python.md has a Django section");
  const section = page.slice(start, page.indexOf("\n## ", start));
  const block = (language: string) =>
    new RegExp(`^\`\`\`${language}\\n([\\s\\S]*?)^\`\`\`$`, "m")
      .exec(section)?.[1];
  const file = block("python");
  const shell = block("sh");
  assert.ok(file && shell, "the section shows a Python file and commands");
  return { file, lines: shellLines(shell) };
}

/** `deno run PERMISSIONS server.ts ARGS`, split where server.ts stands. */
function denoRun(line: ShellLine): { permissions: string[]; args: string[] } {
  const at = line.argv.indexOf("server.ts");
  assert.deepEqual(line.argv.slice(0, 2), ["deno", "run"]);
  assert.ok(at > 1, `${line.argv.join(" ")} runs server.ts`);
  return {
    permissions: line.argv.slice(2, at),
    args: line.argv.slice(at + 1),
  };
}

/** What a browser does for the admin: it keeps cookies; no redirect is followed. */
class Browser {
  readonly cookies = new Map<string, string>();
  constructor(readonly base: string) {}

  /** A GET, or a POST of `form`; every wait bounded. */
  visit(
    path: string,
    form?: Record<string, string>,
  ): Promise<{ status: number; location: string | null; text: string }> {
    return within(`${form ? "POST" : "GET"} ${path}`, this.#visit(path, form));
  }

  async #visit(path: string, form?: Record<string, string>) {
    const cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; ");
    const response = await fetch(new URL(path, this.base), {
      method: form ? "POST" : "GET",
      body: form && new URLSearchParams(form),
      headers: cookie ? { cookie } : {},
      redirect: "manual",
    });
    for (const set of response.headers.getSetCookie()) {
      const [pair] = set.split(";");
      const [name, value] = pair.split(/=(.*)/s, 2);
      if (value) this.cookies.set(name.trim(), value);
      else this.cookies.delete(name.trim());
    }
    const text = await response.text();
    return {
      status: response.status,
      location: response.headers.get("location"),
      text,
    };
  }
}

/** The CSRF token of the form on a page. */
function csrfToken(page: { status: number; text: string }): string {
  assert.equal(page.status, 200);
  const token = /name="csrfmiddlewaretoken" value="([^"]+)"/.exec(page.text);
  assert.ok(token, "a form with a CSRF token");
  return token[1];
}

Deno.test({
  name:
    "django: the default project, set up and served as docs/python.md says, answers the admin's login, a login and a group added through the admin, kept in db.sqlite3",
  ignore: !hasDjango,
  async fn() {
    const { file, lines } = await documented();
    assert.equal(lines.length, 3, "startproject, migrate.py, the site");
    const [startproject, setup, site] = lines;
    const dir = await Deno.makeTempDir({ prefix: "denowsgi-django-" });
    try {
      // python3 -m django startproject mysite, with Debian's python3.
      assert.deepEqual(startproject.argv.slice(0, 3), [
        "python3",
        "-m",
        "django",
      ]);
      const made = await runToEnd(CPYTHON, {
        args: startproject.argv.slice(1),
        cwd: dir,
        env: startproject.env,
      });
      assert.equal(made.code, 0, made.stderr);
      await Deno.writeTextFile(`${dir}/mysite/migrate.py`, file);

      // The tables and the administrator, through the gateway's Python.
      const once = denoRun(setup);
      assert.ok(once.args.includes("--check-config"));
      const setUp = () =>
        runToEnd("deno", {
          args: ["run", ...once.permissions, SERVER_TS, ...once.args],
          cwd: dir,
          env: setup.env,
        });
      const migrated = await setUp();
      assert.equal(migrated.code, 0, migrated.stderr);
      assert.match(migrated.stdout, /Applying sessions\.0001_initial\.\.\. OK/);
      assert.match(migrated.stdout, /Superuser created successfully\./);
      // Again, as the docs say: nothing to migrate, the name taken.
      const again = await setUp();
      assert.equal(again.code, 2, again.stderr);
      assert.match(again.stdout, /No migrations to apply\./);
      assert.match(
        again.stderr,
        /^server\.ts: error: cannot load migrate\.py: .*That username is already taken\.$/m,
      );
      const username = setup.env.DJANGO_SUPERUSER_USERNAME;
      const password = setup.env.DJANGO_SUPERUSER_PASSWORD;
      assert.ok(username && password, "the docs name the administrator");

      // The site, on a free port.
      const serving = denoRun(site);
      await using server = new ServerProcess(
        [...serving.args, "-b", "127.0.0.1:0"],
        { permissions: serving.permissions, cwd: dir, env: site.env },
      );
      let stopped: { code: number; stderr: string } | undefined;
      const group = "Redacción";
      try {
        const browser = new Browser(await server.url);
        const welcome = await browser.visit("/");
        assert.equal(welcome.status, 200);
        assert.match(welcome.text, /The install worked successfully!/);

        const login = "/admin/login/?next=/admin/";
        const credentials = (password: string) => ({
          username,
          password,
          next: "/admin/",
        });
        const anonymous = await browser.visit("/admin/");
        assert.equal(anonymous.status, 302);
        assert.equal(anonymous.location, login);
        const form = await browser.visit(login);
        assert.match(form.text, /<form [^>]*id="login-form"/);
        let csrf = csrfToken(form);
        assert.ok(browser.cookies.has("csrftoken"), "a csrftoken cookie");

        const wrong = await browser.visit(login, {
          csrfmiddlewaretoken: csrf,
          ...credentials(`not-${password}`),
        });
        assert.equal(wrong.status, 200);
        assert.match(
          wrong.text,
          /Please enter the correct username and password for a staff account/,
        );
        assert.ok(!browser.cookies.has("sessionid"), "no session for it");

        const right = await browser.visit(login, {
          csrfmiddlewaretoken: csrf,
          ...credentials(password),
        });
        assert.equal(right.status, 302, right.text);
        assert.equal(right.location, "/admin/");
        assert.ok(browser.cookies.has("sessionid"), "a sessionid cookie");

        const index = await browser.visit("/admin/");
        assert.equal(index.status, 200);
        assert.match(index.text, /Site administration/);
        assert.match(index.text, new RegExp(`Welcome,\\s*<strong>${username}`));

        // A model created through the admin: an auth Group.
        csrf = csrfToken(await browser.visit("/admin/auth/group/add/"));
        const added = await browser.visit("/admin/auth/group/add/", {
          csrfmiddlewaretoken: csrf,
          name: group,
          _save: "Save",
        });
        assert.equal(added.status, 302, added.text);
        assert.equal(added.location, "/admin/auth/group/");
        const groups = await browser.visit("/admin/auth/group/");
        assert.equal(groups.status, 200);
        assert.match(groups.text, new RegExp(`>${group}</a>`));
      } finally {
        stopped = await server.stop();
      }
      assert.equal(stopped.code, 0, stopped.stderr);
      assert.doesNotMatch(stopped.stderr, /Traceback/);

      // On the host: CPython's sqlite3 reads the row from the file, and
      // CPython's Django accepts the password the gateway's Python hashed.
      const check = await runToEnd(CPYTHON, {
        args: ["-c", CPYTHON_CHECK, username, password],
        cwd: `${dir}/mysite`,
      });
      assert.equal(check.code, 0, check.stderr);
      assert.deepEqual(JSON.parse(check.stdout), {
        groups: [group],
        authenticated: true,
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

/** Run by CPython in the project's folder, with the username and password. */
const CPYTHON_CHECK = `
import json, os, sqlite3, sys
rows = sqlite3.connect("db.sqlite3").execute("SELECT name FROM auth_group")
groups = [name for (name,) in rows]
import django
os.environ["DJANGO_SETTINGS_MODULE"] = "mysite.settings"
django.setup()
from django.contrib.auth import authenticate
user = authenticate(username=sys.argv[1], password=sys.argv[2])
print(json.dumps({"groups": groups, "authenticated": user is not None}))
`;
