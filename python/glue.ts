/**
 * The Python half of `python.ts`: the code that runs inside Pyodide to load
 * a `.py` file and to call its WSGI callable with a real PEP 3333 environ.
 * Kept as Python, not as JavaScript calls into Python, because every
 * crossing between the two costs a conversion: one crossing per call, per
 * chunk and per close is the budget.
 *
 * @module
 */

/** The file name Python gives this code in tracebacks, to trim them. */
export const GLUE_FILE = "<denowsgi>";

/** Defines `load`, `call`, `step`, `close` and `native_hint` in Python. */
export const GLUE = `
import glob, io, importlib.util, os, sys
from pyodide.ffi import to_js
from wsgiref.util import FileWrapper

# Python would write .pyc files into the host's folders (dist-packages too).
sys.dont_write_bytecode = True


def load(path, name):
    module_name = os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    app = getattr(module, name, None)
    if not callable(app):
        names = ", ".join(n for n in vars(module) if not n.startswith("_"))
        return f"{path} has no callable named {name} (it defines: {names or 'nothing'})"
    return app


def native_hint(name):
    """The native extension file a failed import of name wanted, if any."""
    parts = name.split(".")
    for folder in sys.path:
        base = os.path.join(folder, *parts)
        found = glob.glob(base + ".*.so") + glob.glob(base + ".so")
        if found:
            return found[0]
    return None


class Errors:
    """wsgi.errors: text, written to the gateway's error stream."""

    def __init__(self, stream):
        self._stream = stream

    def write(self, text):
        if not isinstance(text, str):
            raise TypeError(f"wsgi.errors.write() takes str, not {type(text).__name__}")
        self._stream.write(text)

    def writelines(self, lines):
        for line in lines:
            self.write(line)

    def flush(self):
        self._stream.flush()


def chunk(value):
    """A chunk as JavaScript takes it: bytes become a Uint8Array."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return to_js(bytes(value))
    return value


def call(app, pairs, body, errors, start):
    environ = dict(zip(pairs[::2], pairs[1::2]))
    environ["wsgi.version"] = (1, 0)
    environ["wsgi.input"] = io.BytesIO(body.to_bytes() if body else b"")
    environ["wsgi.errors"] = Errors(errors)
    environ["wsgi.file_wrapper"] = FileWrapper

    def write(data):
        js_write(chunk(data))

    def start_response(status, headers, exc_info=None):
        nonlocal js_write
        js_write = start(status, to_js(headers), exc_info and repr(exc_info[1]))
        if js_write is None:
            # The response had started: PEP 3333 says re-raise exc_info.
            raise exc_info[1].with_traceback(exc_info[2])
        return write

    js_write = None
    result = app(environ, start_response)
    if type(result) in (list, tuple):
        return to_js([chunk(value) for value in result])
    return result


def iterate(result):
    return iter(result)


def step(iterator):
    """The next chunk, or None at the end."""
    for value in iterator:
        if value is None:
            raise TypeError("the body gave None; a chunk is bytes (or str)")
        return chunk(value)
    return None


def close(result):
    if hasattr(result, "close"):
        result.close()
`;
