/**
 * The Python half of the interpreters: the code that runs inside Pyodide,
 * in each worker thread (`python/worker.ts`), to load the application and
 * to call it with a real PEP 3333 environ. Kept as Python, not as
 * JavaScript calls into Python, because every crossing between the two
 * costs a conversion: one crossing per request, per chunk and per read is
 * the budget.
 *
 * Waiting is done with `pyodide.ffi.run_sync` on a JavaScript promise (JSPI:
 * the WebAssembly stack is suspended, the worker's event loop runs): a read
 * of `wsgi.input` waits for the network, `time.sleep` waits on a timer, a
 * streamed response waits for the client to take its chunks. So `handle`
 * is always called through `callPromising()`.
 *
 * @module
 */

/** The file name Python gives this code in tracebacks, to trim them. */
export const GLUE_FILE = "<denowsgi>";

/** Defines `setup`, `load`, `handle` and `native_hint` in Python. */
export const GLUE = `
import glob, importlib, importlib.util, io, os, reprlib, sys, time, traceback
from pyodide.ffi import to_js, run_sync, can_run_sync
from wsgiref.util import FileWrapper

# Python would write .pyc files into the host's folders (dist-packages too).
sys.dont_write_bytecode = True

HOST = None
APP = None
MULTIPROCESS = False
_sleep = time.sleep


def waited(promise):
    """run_sync, then back in Python: whether the deadline passed meanwhile."""
    value = run_sync(promise)
    return value, HOST.resumed()


def sleep(seconds):
    """time.sleep that lets the worker's event loop run, costing no CPU."""
    if seconds > 0 and can_run_sync():
        woken, stop = waited(HOST.sleep(seconds * 1000))
        if woken or stop:
            raise KeyboardInterrupt("interrupted while asleep")
    else:
        _sleep(seconds)


def setup(host, environment, multiprocess):
    global HOST, MULTIPROCESS
    HOST = host
    MULTIPROCESS = bool(multiprocess)
    if environment is not None:
        os.environ.clear()
        os.environ.update(environment)
    time.sleep = sleep


def load(kind, target, name, label):
    """Loads the application; None, or one line saying why not."""
    global APP
    if kind == "file":
        module_name = os.path.splitext(os.path.basename(target))[0]
        spec = importlib.util.spec_from_file_location(module_name, target)
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
    else:
        module = importlib.import_module(target)
    found = module
    for part in name.split("."):
        if not hasattr(found, part):
            names = ", ".join(n for n in vars(module) if not n.startswith("_"))
            return f"{label} has no callable named {name} (it defines: {names or 'nothing'})"
        found = getattr(found, part)
    if not callable(found):
        return f"{label}: {name} is not callable (it is {type(found).__name__} {reprlib.repr(found)})"
    APP = found
    return None


def reload(kind, target, name, label, root):
    """Loads the application again, in this interpreter: every module loaded
    from the app's folder is forgotten first, so an edited helper is read
    again too. None, or one line saying why not; then, or when it raises,
    the last application that loaded stays."""
    global APP
    last = APP
    root = root.rstrip("/") + "/"
    for module_name, module in list(sys.modules.items()):
        if (getattr(module, "__file__", None) or "").startswith(root):
            del sys.modules[module_name]
    importlib.invalidate_caches()
    try:
        why = load(kind, target, name, label)
    except BaseException:
        APP = last
        raise
    if why is not None:
        APP = last
    return why


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

    def write(self, text):
        if not isinstance(text, str):
            raise TypeError(f"wsgi.errors.write() takes str, not {type(text).__name__}")
        HOST.log(text)

    def writelines(self, lines):
        for line in lines:
            self.write(line)

    def flush(self):
        pass


ERRORS = Errors()


class Input(io.RawIOBase):
    """The request body, read from the network as Python reads it."""

    def __init__(self, has_body):
        self._open = has_body

    def readable(self):
        return True

    def readinto(self, buffer):
        if not self._open or len(buffer) == 0:
            return 0
        data, stop = waited(HOST.read(len(buffer)))
        if data is False or stop:
            self._open = False
            raise KeyboardInterrupt("interrupted while reading wsgi.input")
        if isinstance(data, str):
            self._open = False
            raise OSError(data)
        if data is None:
            self._open = False
            return 0
        size = data.length
        data.assign_to(memoryview(buffer)[:size])
        return size


class Cancelled(Exception):
    """The client is gone: stop pulling the body."""


def safe(value):
    """A value postMessage can carry: str and bytes as they are."""
    if isinstance(value, (str, bytes)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [safe(v) for v in value]
    # Not a str: the gateway's rules name it, as they would in TypeScript.
    return {"python": type(value).__name__, "repr": repr(value)}


class BodyError(TypeError):
    """A body PEP 3333 does not allow: said in one line, with no frames of
    this glue, which are all a traceback would show."""


def chunk(value):
    """A chunk as JavaScript takes it: bytes become a Uint8Array."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return to_js(bytes(value))
    if isinstance(value, str):
        return value
    raise BodyError(
        f"the body gave {type(value).__name__} {shown(value)}, not bytes: a WSGI "
        "body is an iterable of bytes, such as [b'...'] (PEP 3333)")


def check_start(status, headers):
    """What wsgiref's start_response asserts, raised where the app called
    it: the gateway's rules check the rest (the status's form, the names)."""
    if type(status) is not str:
        raise TypeError(
            f"start_response: the status must be a str such as '200 OK', "
            f"not {type(status).__name__} {shown(status)}")
    if type(headers) is not list:
        raise TypeError(
            "start_response: the headers must be a list of (name, value) "
            f"tuples, not {type(headers).__name__} {shown(headers)}")
    for header in headers:
        if (not isinstance(header, (tuple, list)) or len(header) != 2
                or type(header[0]) is not str or type(header[1]) is not str):
            raise TypeError(
                "start_response: each header must be a (name, value) tuple "
                f"of str, not {shown(header)}")


def check_started(starts):
    """A body's first bytes come after start_response."""
    if not starts:
        raise BodyError(
            "the body came before start_response was called (PEP 3333)")


def shown(value):
    """A value in a message: its repr, cut short."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def check_body(result):
    """Refuses a result that is no iterable of chunks at all."""
    if isinstance(result, (bytes, bytearray, str)):
        # Iterating it would give ints, or one character at a time.
        raise BodyError(
            f"the application returned {type(result).__name__}, not an "
            "iterable of bytes: return a list of it, [body] (PEP 3333)")
    if result is None:
        raise BodyError(
            "the application returned None, not an iterable of bytes: "
            "return [body] (PEP 3333)")


def dict_to_js(pairs):
    from js import Object
    return Object.fromEntries(to_js(pairs))


class FastFileWrapper(FileWrapper):
    """wsgi.file_wrapper: a real file is sent by the gateway, not read here."""


def handle(pairs, has_body, multiprocess):
    # The environ's strings come as one, NUL-separated (no value holds a
    # NUL: the main thread checked), else as an array.
    pairs = pairs.split("\\0") if type(pairs) is str else pairs.to_py()
    environ = dict(zip(pairs[::2], pairs[1::2]))
    # PEP 3333's native strings hold the request's bytes, one character
    # each (latin-1), as wsgiref and gunicorn give them and as Werkzeug
    # decodes them back; the gateway decoded the path as UTF-8, a byte
    # outside valid UTF-8 as a lone surrogate, which gives that byte back.
    for key in ("PATH_INFO", "SCRIPT_NAME"):
        value = environ.get(key)
        if value is not None and not value.isascii():
            environ[key] = value.encode("utf-8", "surrogateescape").decode(
                "latin-1")
    environ["wsgi.version"] = (1, 0)
    environ["wsgi.run_once"] = False
    environ["wsgi.input_terminated"] = True
    environ["wsgi.input"] = io.BufferedReader(Input(has_body), 65536)
    environ["wsgi.errors"] = ERRORS
    environ["wsgi.file_wrapper"] = FastFileWrapper
    # One request at a time per interpreter: the same app object is never
    # called by two threads at once; other interpreters are other processes.
    environ["wsgi.multithread"] = False
    environ["wsgi.multiprocess"] = MULTIPROCESS or multiprocess
    starts = []
    sent = False

    def head():
        nonlocal sent
        if sent:
            return None
        sent = True
        if len(starts) == 1 and starts[0][2] is None:
            # One call (of str: check_start saw to it) crosses as one
            # string, NUL-separated, unless a NUL is in it.
            status, headers, _ = starts[0]
            flat = [status]
            for name, value in headers:
                flat.append(name)
                flat.append(value)
            if not any("\\0" in text for text in flat):
                return "\\0".join(flat)
        return to_js([[safe(a), safe(b), c] for a, b, c in starts], dict_converter=dict_to_js)

    def emit(value):
        if not starts:
            # PEP 3333 allows empty chunks before start_response.
            if isinstance(value, (bytes, bytearray, str)) and not value:
                return
            check_started(starts)
        state = HOST.send(head(), chunk(value))
        if state == 1:
            state, stop = waited(HOST.drained())
            if stop:
                state = 2
        if state == 2:
            raise Cancelled()

    def write(data):
        emit(data)

    def start_response(status, headers, exc_info=None):
        if exc_info and sent:
            # The response had started: PEP 3333 says re-raise exc_info.
            raise exc_info[1].with_traceback(exc_info[2])
        if starts and not exc_info:
            raise TypeError(
                "start_response was called a second time without exc_info: "
                "pass sys.exc_info() as its third argument (PEP 3333)")
        check_start(status, headers)
        starts.append((status, headers, exc_info and repr(exc_info[1])))
        return write

    result = None
    chunks = None
    error = None
    try:
        result = APP(environ, start_response)
        check_body(result)
        if type(result) in (list, tuple):
            check_started(starts)
            if len(result) == 1 and isinstance(result[0], (bytes, str)):
                chunks = chunk(result[0])
            else:
                chunks = to_js([chunk(value) for value in result])
        else:
            file = getattr(result, "filelike", None) if isinstance(result, FastFileWrapper) else None
            name = getattr(file, "name", None)
            if isinstance(name, str) and os.path.isfile(name) and hasattr(file, "tell"):
                check_started(starts)
                chunks = to_js([{"file": os.path.abspath(name), "offset": file.tell()}], dict_converter=dict_to_js)
            else:
                for value in result:
                    emit(value)
    except Cancelled:
        pass
    except BodyError as exc:
        error = f"TypeError: {exc}\\n"
    except BaseException as exc:
        error = "".join(traceback.format_exception(exc))
    finally:
        if hasattr(result, "close"):
            try:
                result.close()
            except BaseException as exc:
                error = (error or "") + "".join(traceback.format_exception(exc))
    HOST.end(head(), chunks, error)
`;
