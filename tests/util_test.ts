/**
 * util.ts against wsgiref.util: every case of CPython's
 * Lib/test/test_wsgiref.py UtilityTests (testSimpleShifts,
 * testNormalizedShifts, testDefaults, testCrossDefaults, testGuessScheme,
 * testAppURIs, testReqURIs), more edge cases whose expected values were
 * taken from wsgiref itself (Python 3.11), and the places where our UTF-8
 * path rule gives another answer than Python's latin-1.
 *
 * @module
 */

import assert from "node:assert/strict";
import { type Application, type Environ, toFetchHandler } from "../mod.ts";
import {
  applicationUri,
  guessScheme,
  requestUri,
  setupTestingDefaults,
  shiftPathInfo,
} from "../util.ts";
import { listen } from "./_helpers.ts";

/** Python's `util.setup_testing_defaults(kw)` on keyword arguments. */
function defaults(fields: Partial<Environ> = {}): Environ {
  const environ = { ...fields };
  setupTestingDefaults(environ);
  return environ;
}

// ---------------------------------------------------------------------------
// shiftPathInfo
// ---------------------------------------------------------------------------

/** [SCRIPT_NAME in, PATH_INFO in, returned, SCRIPT_NAME out, PATH_INFO out] */
type Shift = [string, string, string | undefined, string, string];

const simpleShifts: Shift[] = [
  ["", "/", "", "/", ""],
  ["", "/x", "x", "/x", ""],
  ["/", "", undefined, "/", ""],
  ["/a", "/x/y", "x", "/a/x", "/y"],
  ["/a", "/x/", "x", "/a/x", "/"],
];

const normalizedShifts: Shift[] = [
  ["/a/b", "/../y", "..", "/a", "/y"],
  ["", "/../y", "..", "", "/y"],
  ["/a/b", "//y", "y", "/a/b/y", ""],
  ["/a/b", "//y/", "y", "/a/b/y", "/"],
  ["/a/b", "/./y", "y", "/a/b/y", ""],
  ["/a/b", "/./y/", "y", "/a/b/y", "/"],
  ["/a/b", "///./..//y/.//", "..", "/a", "/y/"],
  ["/a/b", "///", "", "/a/b/", ""],
  ["/a/b", "/.//", "", "/a/b/", ""],
  ["/a/b", "/x//", "x", "/a/b/x", "/"],
  ["/a/b", "/.", undefined, "/a/b", ""],
];

/** Not in wsgiref's tests; the expected values are wsgiref's answers. */
const moreShifts: Shift[] = [
  ["", "", undefined, "", ""],
  ["/", "/x", "x", "//x", ""], // normpath keeps exactly two leading slashes
  ["//", "/x", "x", "/x", ""],
  ["/a/", "/x", "x", "/a/x", ""],
  ["", "//", "", "/", ""],
  ["", "/.", undefined, "", ""],
  ["", "/./", "", "/", ""],
  ["", "/..", "..", "", ""],
  ["/a", "/..", "..", "", ""],
  ["/a", "/../..", "..", "", "/.."], // only the last segment is kept as is
  ["/a/b", "/x/../y", "x", "/a/b/x", "/../y"],
  ["", "/a/./b", "a", "/a", "/b"],
  ["/a", "/x//y", "x", "/a/x", "/y"],
  ["/a", "/x;y=1/z", "x;y=1", "/a/x;y=1", "/z"],
  ["/a", "/café/x", "café", "/a/café", "/x"],
  ["/a", "/ /b", " ", "/a/ ", "/b"],
];

for (
  const [name, table] of [
    ["testSimpleShifts", simpleShifts],
    ["testNormalizedShifts", normalizedShifts],
    ["more edge cases", moreShifts],
  ] as const
) {
  Deno.test(`shiftPathInfo: wsgiref's ${name}`, () => {
    for (const [scriptIn, pathIn, part, scriptOut, pathOut] of table) {
      const environ = defaults({ SCRIPT_NAME: scriptIn, PATH_INFO: pathIn });
      const label = JSON.stringify([scriptIn, pathIn]);
      assert.equal(shiftPathInfo(environ), part, label);
      assert.equal(environ.PATH_INFO, pathOut, label);
      assert.equal(environ.SCRIPT_NAME, scriptOut, label);
    }
  });
}

Deno.test("shiftPathInfo: walks a whole path, then returns undefined", () => {
  const environ = defaults({ SCRIPT_NAME: "/app", PATH_INFO: "/blog//7/" });
  const walk = [];
  for (let part; (part = shiftPathInfo(environ)) !== undefined;) {
    walk.push([part, environ.SCRIPT_NAME, environ.PATH_INFO]);
  }
  assert.deepEqual(walk, [
    ["blog", "/app/blog", "/7/"],
    ["7", "/app/blog/7", "/"],
    ["", "/app/blog/7/", ""],
  ]);
});

Deno.test("shiftPathInfo: a PATH_INFO without a leading / is refused", () => {
  for (const pathInfo of ["x", "x/y", "./x"]) {
    const environ = defaults({ SCRIPT_NAME: "/a", PATH_INFO: pathInfo });
    assert.throws(() => shiftPathInfo(environ), {
      name: "TypeError",
      message: `PATH_INFO must be empty or start with "/", not "${pathInfo}"`,
    });
    assert.equal(environ.SCRIPT_NAME, "/a", "the environ is left as it was");
    assert.equal(environ.PATH_INFO, pathInfo);
  }
});

// ---------------------------------------------------------------------------
// setupTestingDefaults
// ---------------------------------------------------------------------------

/** testDefaults: [key, the default, a value that must be kept]. */
const wsgirefDefaults: [string, unknown, unknown][] = [
  ["SERVER_NAME", "127.0.0.1", "example.org"],
  ["SERVER_PORT", "80", "8080"],
  ["SERVER_PROTOCOL", "HTTP/1.0", "HTTP/2"],
  ["HTTP_HOST", "127.0.0.1", "example.org:8080"],
  ["REQUEST_METHOD", "GET", "POST"],
  ["SCRIPT_NAME", "", "/app"],
  ["PATH_INFO", "/", "/x"],
  ["wsgi.version", [1, 0], [1, 0]],
  ["wsgi.run_once", false, true],
  ["wsgi.multithread", false, true],
  ["wsgi.multiprocess", false, true],
  ["wsgi.url_scheme", "http", "https"],
];

Deno.test("setupTestingDefaults: wsgiref's testDefaults", async () => {
  for (const [key, value, alt] of wsgirefDefaults) {
    assert.deepEqual(defaults()[key], value, key);
    const kept = { [key]: alt } as Partial<Environ>;
    setupTestingDefaults(kept);
    assert.equal(kept[key], alt, `an existing ${key} is kept`);
  }
  const { "wsgi.input": input, "wsgi.errors": errors } = defaults();
  assert.deepEqual(await input.read(), new Uint8Array(0));
  assert.deepEqual(await input.readline(), new Uint8Array(0));
  assert.deepEqual(await input.readlines(), []);
  assert.deepEqual(await Array.fromAsync(input), []);
  for (const method of ["write", "writelines", "flush"] as const) {
    assert.equal(typeof errors[method], "function");
  }
});

Deno.test("setupTestingDefaults: wsgiref's testCrossDefaults", () => {
  const cases: [string, string, Partial<Environ>][] = [
    ["HTTP_HOST", "foo.bar", { SERVER_NAME: "foo.bar" }],
    ["wsgi.url_scheme", "https", { HTTPS: "on" }],
    ["wsgi.url_scheme", "https", { HTTPS: "1" }],
    ["wsgi.url_scheme", "https", { HTTPS: "yes" }],
    ["wsgi.url_scheme", "http", { HTTPS: "foo" }],
    ["SERVER_PORT", "80", { HTTPS: "foo" }],
    ["SERVER_PORT", "443", { HTTPS: "on" }],
    // Not in wsgiref's tests; wsgiref's answers.
    ["SERVER_PORT", "443", { "wsgi.url_scheme": "https" }],
    ["SERVER_PORT", "80", { HTTPS: "on", "wsgi.url_scheme": "http" }],
    ["wsgi.url_scheme", "http", { HTTPS: "on", "wsgi.url_scheme": "http" }],
    ["HTTP_HOST", "y", { SERVER_NAME: "x", HTTP_HOST: "y" }],
    ["HTTP_HOST", "127.0.0.1", { SERVER_PORT: "8000" }], // no port in it
  ];
  for (const [key, value, fields] of cases) {
    assert.equal(defaults(fields)[key], value, JSON.stringify(fields));
  }
});

Deno.test("setupTestingDefaults: one of SCRIPT_NAME and PATH_INFO given, the other is empty", () => {
  const cases: [Partial<Environ>, string, string][] = [
    [{ SCRIPT_NAME: "/a" }, "/a", ""],
    [{ PATH_INFO: "/x" }, "", "/x"],
    [{ SCRIPT_NAME: "" }, "", ""],
    [{ PATH_INFO: "" }, "", ""],
  ];
  for (const [fields, scriptName, pathInfo] of cases) {
    const { SCRIPT_NAME, PATH_INFO } = defaults(fields);
    assert.deepEqual([SCRIPT_NAME, PATH_INFO], [scriptName, pathInfo]);
  }
});

Deno.test("setupTestingDefaults: undefined counts as missing; empty strings are kept", () => {
  const environ = defaults({
    SERVER_NAME: undefined,
    HTTP_HOST: undefined,
    SERVER_PROTOCOL: "",
  });
  assert.equal(environ.SERVER_NAME, "127.0.0.1");
  assert.equal(environ.HTTP_HOST, "127.0.0.1");
  assert.equal(environ.SERVER_PROTOCOL, "");
});

Deno.test("setupTestingDefaults: the keys our Environ adds to wsgiref's", () => {
  const environ = defaults({
    SCRIPT_NAME: "/app",
    PATH_INFO: "/a b",
    QUERY_STRING: "x=1",
    REQUEST_METHOD: "POST",
    CONTENT_TYPE: "text/plain",
    CONTENT_LENGTH: "0",
    HTTP_X_TRACE_ID: "7",
  });
  assert.equal(environ.REQUEST_URI, "/app/a%20b?x=1");
  assert.equal(environ.RAW_URI, "/app/a%20b?x=1");
  assert.equal(environ["wsgi.input_terminated"], true);
  const request = environ["deno.request"];
  assert.equal(request.url, "http://127.0.0.1/app/a%20b?x=1");
  assert.equal(request.method, "POST");
  assert.equal(request.body, null);
  assert.deepEqual(Object.fromEntries(request.headers), {
    "content-length": "0",
    "content-type": "text/plain",
    host: "127.0.0.1",
    "x-trace-id": "7",
  });
  assert.equal(defaults().QUERY_STRING, "");
  assert.equal(defaults().REQUEST_URI, "/");
});

Deno.test("setupTestingDefaults: deno.request is not built when given, and throws where no Request can be", () => {
  const request = new Request("http://example.org/");
  const environ = defaults({
    REQUEST_METHOD: "CONNECT",
    "deno.request": request,
  });
  assert.equal(environ["deno.request"], request);
  assert.throws(() => defaults({ REQUEST_METHOD: "CONNECT" }), TypeError);
  assert.throws(() => defaults({ HTTP_X_BAD: "a\nb" }), TypeError);
});

Deno.test("setupTestingDefaults: the environ runs an application", async () => {
  const app: Application = (environ, startResponse) => {
    startResponse("200 OK", [["Content-Type", "text/plain"]]);
    return [`${environ.REQUEST_METHOD} ${requestUri(environ)}`];
  };
  const statuses: string[] = [];
  const body = await app(defaults({ PATH_INFO: "/hola" }), (status) => {
    statuses.push(status);
    return () => {};
  });
  assert.deepEqual([statuses, body], [["200 OK"], [
    "GET http://127.0.0.1/hola",
  ]]);
});

// ---------------------------------------------------------------------------
// guessScheme
// ---------------------------------------------------------------------------

Deno.test("guessScheme: wsgiref's testGuessScheme, and case matters", () => {
  const cases: [Partial<Environ>, string][] = [
    [{}, "http"],
    [{ HTTPS: "foo" }, "http"],
    [{ HTTPS: "on" }, "https"],
    [{ HTTPS: "yes" }, "https"],
    [{ HTTPS: "1" }, "https"],
    // Not in wsgiref's tests; wsgiref's answers.
    [{ HTTPS: "ON" }, "http"],
    [{ HTTPS: "off" }, "http"],
    [{ HTTPS: "" }, "http"],
    [{ HTTPS: 1 }, "http"],
    [{ "wsgi.url_scheme": "https" }, "http"],
  ];
  for (const [environ, scheme] of cases) {
    assert.equal(guessScheme(environ), scheme, JSON.stringify(environ));
  }
});

// ---------------------------------------------------------------------------
// applicationUri and requestUri
// ---------------------------------------------------------------------------

/**
 * [expected, the environ's fields, wsgiref's answer where ours differs].
 * wsgiref's `HTTP_HOST=None` is written `HTTP_HOST: ""`: undefined is
 * filled in, as missing.
 */
type UriCase = [string, Partial<Environ>, string?];

const appUris: UriCase[] = [
  ["http://127.0.0.1/", {}],
  ["http://127.0.0.1/spam", { SCRIPT_NAME: "/spam" }],
  [
    "http://127.0.0.1/sp%C3%A4m",
    { SCRIPT_NAME: "/sp\xe4m" },
    "http://127.0.0.1/sp%E4m",
  ],
  ["http://spam.example.com:2071/", {
    HTTP_HOST: "spam.example.com:2071",
    SERVER_PORT: "2071",
  }],
  ["http://spam.example.com/", { SERVER_NAME: "spam.example.com" }],
  ["http://127.0.0.1/", {
    HTTP_HOST: "127.0.0.1",
    SERVER_NAME: "spam.example.com",
  }],
  ["https://127.0.0.1/", { HTTPS: "on" }],
  ["http://127.0.0.1:8000/", { SERVER_PORT: "8000", HTTP_HOST: "" }],
  // Not in wsgiref's tests; wsgiref's answers.
  ["https://127.0.0.1:8443/", {
    HTTPS: "on",
    SERVER_PORT: "8443",
    HTTP_HOST: "",
  }],
  ["https://127.0.0.1/", { HTTPS: "on", SERVER_PORT: "443", HTTP_HOST: "" }],
  ["http://127.0.0.1:443/", { SERVER_PORT: "443", HTTP_HOST: "" }],
  ["https://127.0.0.1:80/", { HTTPS: "on", SERVER_PORT: "80", HTTP_HOST: "" }],
  ["http://127.0.0.1/s%20t%3B%3D%2C", { SCRIPT_NAME: "/s t;=," }],
  ["http://127.0.0.1/a", { SCRIPT_NAME: "/a", PATH_INFO: "/b" }],
];

const reqUris: [...UriCase, boolean?][] = [
  ["http://127.0.0.1/", {}],
  ["http://127.0.0.1/spam", { SCRIPT_NAME: "/spam" }],
  [
    "http://127.0.0.1/sp%C3%A4m",
    { SCRIPT_NAME: "/sp\xe4m" },
    "http://127.0.0.1/sp%E4m",
  ],
  ["http://127.0.0.1/spammity/spam", {
    SCRIPT_NAME: "/spammity",
    PATH_INFO: "/spam",
  }],
  ["http://127.0.0.1/spammity/sp%C3%A4m", {
    SCRIPT_NAME: "/spammity",
    PATH_INFO: "/sp\xe4m",
  }, "http://127.0.0.1/spammity/sp%E4m"],
  ["http://127.0.0.1/spammity/spam;ham", {
    SCRIPT_NAME: "/spammity",
    PATH_INFO: "/spam;ham",
  }],
  ["http://127.0.0.1/spammity/spam;cookie=1234,5678", {
    SCRIPT_NAME: "/spammity",
    PATH_INFO: "/spam;cookie=1234,5678",
  }],
  ["http://127.0.0.1/spammity/spam?say=ni", {
    SCRIPT_NAME: "/spammity",
    PATH_INFO: "/spam",
    QUERY_STRING: "say=ni",
  }],
  ["http://127.0.0.1/spammity/spam?s%E4y=ni", {
    SCRIPT_NAME: "/spammity",
    PATH_INFO: "/spam",
    QUERY_STRING: "s%E4y=ni",
  }],
  [
    "http://127.0.0.1/spammity/spam",
    {
      SCRIPT_NAME: "/spammity",
      PATH_INFO: "/spam",
      QUERY_STRING: "say=ni",
    },
    undefined,
    false,
  ],
  // Not in wsgiref's tests; wsgiref's answers.
  ["http://127.0.0.1/a%20b%21%27%28%29%2A~-_.;=,%3A%40%26%2B%24%5B%5D", {
    PATH_INFO: "/a b!'()*~-_.;=,:@&+$[]",
  }],
  ["http://127.0.0.1/s%20t%3B%3D%2C/x", {
    SCRIPT_NAME: "/s t;=,",
    PATH_INFO: "/x",
  }],
  ["http://127.0.0.1/%25zz", { PATH_INFO: "/%zz" }],
  ["http://127.0.0.1/", { PATH_INFO: "" }],
  ["http://127.0.0.1/a", { SCRIPT_NAME: "/a", PATH_INFO: "" }],
  ["http://127.0.0.1/", { QUERY_STRING: "" }],
  [
    "http://127.0.0.1/caf%C3%A9",
    { PATH_INFO: "/café" },
    "http://127.0.0.1/caf%E9",
  ],
  [
    "http://127.0.0.1/%F0%9F%90%8D",
    { PATH_INFO: "/🐍" },
    "(UnicodeEncodeError)",
  ],
];

Deno.test("applicationUri: wsgiref's testAppURIs, in UTF-8", () => {
  for (const [uri, fields] of appUris) {
    assert.equal(applicationUri(defaults(fields)), uri, JSON.stringify(fields));
  }
});

Deno.test("requestUri: wsgiref's testReqURIs, in UTF-8", () => {
  for (const [uri, fields, , includeQuery = true] of reqUris) {
    assert.equal(
      requestUri(defaults(fields), includeQuery),
      uri,
      JSON.stringify(fields),
    );
  }
});

Deno.test("requestUri: UTF-8 where wsgiref has latin-1; the same bytes on the wire", () => {
  // The rows where our answer is not wsgiref's are the non-ASCII paths.
  for (const [uri, fields, python] of [...appUris, ...reqUris]) {
    const ascii = /^[ -~]*$/.test(
      `${fields.SCRIPT_NAME}${fields.PATH_INFO}`,
    );
    assert.equal(python === undefined, ascii, uri);
  }
  // A client that sends /caf%C3%A9: Python's environ holds the bytes as
  // latin-1 ("/cafÃ©"), ours as UTF-8 ("/café"); both rebuild the same URL.
  const python = "/caf\xc3\xa9";
  assert.equal(
    requestUri(defaults({ PATH_INFO: "/café" })),
    "http://127.0.0.1/caf%C3%A9",
  );
  assert.equal(
    requestUri(defaults({ PATH_INFO: python })),
    "http://127.0.0.1/caf%C3%83%C2%A9",
    "latin-1 mojibake is text to us, and is encoded again",
  );
});

Deno.test("requestUri and applicationUri: from the environ toFetchHandler builds", async () => {
  const handler = toFetchHandler((environ, startResponse) => {
    const before = requestUri(environ);
    const shifted = shiftPathInfo(environ);
    startResponse("200 OK", [["Content-Type", "application/json"]]);
    return [JSON.stringify([
      before,
      shifted,
      applicationUri(environ),
      requestUri(environ, false),
    ])];
  });
  const response = await handler(
    new Request("http://localhost:8000/blog/caf%C3%A9/7?page=2"),
  );
  assert.deepEqual(await response.json(), [
    "http://localhost:8000/blog/caf%C3%A9/7?page=2",
    "blog",
    "http://localhost:8000/blog",
    "http://localhost:8000/blog/caf%C3%A9/7",
  ]);
});

Deno.test("requestUri: on a real server, the URL the client asked for", async () => {
  await using server = listen((environ, startResponse) => {
    startResponse("200 OK", [["Content-Type", "text/plain"]]);
    return [requestUri(environ)];
  });
  const base = server.url;
  // [sent, rebuilt]; wsgiref rebuilds the same except where noted.
  const cases: [string, string][] = [
    ["/a%20b?x=1", "/a%20b?x=1"],
    ["/", "/"],
    ["/caf%C3%A9/x;y=1,2", "/caf%C3%A9/x;y=1,2"],
    ["/?", "/"], // an empty query is dropped
    ["/a%2Fb", "/a/b"], // PATH_INFO cannot tell %2F from /
    ["/%zz", "/%25zz"], // a malformed escape is kept as text
    ["/%E9", "/%E9"], // invalid UTF-8 kept as its byte (surrogateescape)
    ["/%C3%A9%FF", "/%C3%A9%FF"],
  ];
  for (const [sent, rebuilt] of cases) {
    const response = await fetch(base + sent);
    assert.equal(await response.text(), base + rebuilt, sent);
  }
});

Deno.test("setupTestingDefaults: a key holding a non-string is kept, and nothing throws", () => {
  const odd: [string, unknown][] = [
    ["PATH_INFO", 5],
    ["SCRIPT_NAME", 7],
    ["QUERY_STRING", 3],
    ["HTTP_HOST", { host: "x" }],
    ["SERVER_NAME", 1],
    ["SERVER_PORT", 8000],
    ["REQUEST_METHOD", ["GET"]],
    ["wsgi.url_scheme", 0],
    ["HTTP_X_COUNT", 3],
  ];
  for (const [key, value] of odd) {
    // A JavaScript caller, or a Python-minded test, is not held by the types.
    const environ = defaults({ [key]: value } as Partial<Environ>);
    assert.equal(environ[key], value, key);
    assert.ok(environ["deno.request"] instanceof Request, key);
    assert.equal(typeof environ.REQUEST_URI, "string", key);
  }
});
