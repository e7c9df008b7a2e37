"""DB-API 2.0 (PEP 249) over Deno's built-in SQLite, for Python on Pyodide.

Pyodide's own sqlite3 wheel is not in its npm package, so this module stands
in for CPython's ``sqlite3``, written against what CPython 3.11 documents and
does. The database is Deno's ``node:sqlite`` ``DatabaseSync``, which is
synchronous, so Python calls it through Pyodide's JavaScript bridge (the
``_denosqlite`` module, ``python/sqlite_bridge.ts``). docs/python.md says
what is supported and what is left out.
"""

import datetime
import os
import time
from collections import OrderedDict
from urllib.parse import parse_qsl, unquote

import _denosqlite as _js
from pyodide.ffi import JsException, create_proxy, to_js

# -- the module's constants ------------------------------------------------------

apilevel = "2.0"
threadsafety = 1
paramstyle = "qmark"
version = "2.6.0"
version_info = (2, 6, 0)
PARSE_DECLTYPES = 1
PARSE_COLNAMES = 2


def _sqlite_version():
    db = _js.open(":memory:", False, 0)
    try:
        prepared = _js.prepare(db, "SELECT sqlite_version()")
        result = _js.execute(db, prepared[0], to_js([]), to_js([]), 2, 2)
        return result.to_py()[1][0][0]
    finally:
        _js.close(db)


sqlite_version = _sqlite_version()
sqlite_version_info = tuple(int(part) for part in sqlite_version.split("."))

Binary = memoryview
Date = datetime.date
Time = datetime.time
Timestamp = datetime.datetime


def DateFromTicks(ticks):
    return Date(*time.localtime(ticks)[:3])


def TimeFromTicks(ticks):
    return Time(*time.localtime(ticks)[3:6])


def TimestampFromTicks(ticks):
    return Timestamp(*time.localtime(ticks)[:6])


def complete_statement(statement):
    """Whether the text ends a statement, as sqlite3_complete says."""
    if not isinstance(statement, str):
        raise TypeError("complete_statement() argument must be str")
    depth_ok, end, i, text = True, False, 0, statement
    while i < len(text):
        ch = text[i]
        if ch in "'\"`[":
            close = "]" if ch == "[" else ch
            j = text.find(close, i + 1)
            if j < 0:
                return False
            i, end = j + 1, False
        elif text.startswith("--", i):
            j = text.find("\n", i)
            i = len(text) if j < 0 else j + 1
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            if j < 0:
                return False
            i = j + 2
        elif ch == ";":
            i, end = i + 1, True
        elif ch.isspace():
            i += 1
        else:
            i, end = i + 1, False
    return depth_ok and end


def enable_callback_tracebacks(flag, /):
    global _callback_tracebacks
    _callback_tracebacks = bool(flag)


_callback_tracebacks = False


def enable_shared_cache(enable):
    raise NotSupportedError("shared cache is not supported over Deno's SQLite")


# -- exceptions ------------------------------------------------------------------


class Warning(Exception):
    pass


class Error(Exception):
    pass


class InterfaceError(Error):
    pass


class DatabaseError(Error):
    pass


class DataError(DatabaseError):
    pass


class OperationalError(DatabaseError):
    pass


class IntegrityError(DatabaseError):
    pass


class InternalError(DatabaseError):
    pass


class ProgrammingError(DatabaseError):
    pass


class NotSupportedError(DatabaseError):
    pass


for _class in (Warning, Error, InterfaceError, DatabaseError, DataError,
               OperationalError, IntegrityError, InternalError,
               ProgrammingError, NotSupportedError):
    _class.__module__ = "sqlite3"

# SQLite's result codes, primary and extended, by value (sqlite3.h).
_ERROR_NAMES = {
    0: "SQLITE_OK", 1: "SQLITE_ERROR", 2: "SQLITE_INTERNAL", 3: "SQLITE_PERM",
    4: "SQLITE_ABORT", 5: "SQLITE_BUSY", 6: "SQLITE_LOCKED",
    7: "SQLITE_NOMEM", 8: "SQLITE_READONLY", 9: "SQLITE_INTERRUPT",
    10: "SQLITE_IOERR", 11: "SQLITE_CORRUPT", 12: "SQLITE_NOTFOUND",
    13: "SQLITE_FULL", 14: "SQLITE_CANTOPEN", 15: "SQLITE_PROTOCOL",
    16: "SQLITE_EMPTY", 17: "SQLITE_SCHEMA", 18: "SQLITE_TOOBIG",
    19: "SQLITE_CONSTRAINT", 20: "SQLITE_MISMATCH", 21: "SQLITE_MISUSE",
    22: "SQLITE_NOLFS", 23: "SQLITE_AUTH", 24: "SQLITE_FORMAT",
    25: "SQLITE_RANGE", 26: "SQLITE_NOTADB", 27: "SQLITE_NOTICE",
    28: "SQLITE_WARNING", 100: "SQLITE_ROW", 101: "SQLITE_DONE",
    256: "SQLITE_OK_LOAD_PERMANENTLY", 257: "SQLITE_ERROR_MISSING_COLLSEQ",
    261: "SQLITE_BUSY_RECOVERY", 262: "SQLITE_LOCKED_SHAREDCACHE",
    264: "SQLITE_READONLY_RECOVERY", 266: "SQLITE_IOERR_READ",
    267: "SQLITE_CORRUPT_VTAB", 270: "SQLITE_CANTOPEN_NOTEMPDIR",
    275: "SQLITE_CONSTRAINT_CHECK", 279: "SQLITE_AUTH_USER",
    283: "SQLITE_NOTICE_RECOVER_WAL", 284: "SQLITE_WARNING_AUTOINDEX",
    512: "SQLITE_OK_SYMLINK", 513: "SQLITE_ERROR_RETRY",
    516: "SQLITE_ABORT_ROLLBACK", 517: "SQLITE_BUSY_SNAPSHOT",
    518: "SQLITE_LOCKED_VTAB", 520: "SQLITE_READONLY_CANTLOCK",
    522: "SQLITE_IOERR_SHORT_READ", 523: "SQLITE_CORRUPT_SEQUENCE",
    526: "SQLITE_CANTOPEN_ISDIR", 531: "SQLITE_CONSTRAINT_COMMITHOOK",
    539: "SQLITE_NOTICE_RECOVER_ROLLBACK", 769: "SQLITE_ERROR_SNAPSHOT",
    773: "SQLITE_BUSY_TIMEOUT", 776: "SQLITE_READONLY_ROLLBACK",
    778: "SQLITE_IOERR_WRITE", 779: "SQLITE_CORRUPT_INDEX",
    782: "SQLITE_CANTOPEN_FULLPATH", 787: "SQLITE_CONSTRAINT_FOREIGNKEY",
    1032: "SQLITE_READONLY_DBMOVED", 1034: "SQLITE_IOERR_FSYNC",
    1038: "SQLITE_CANTOPEN_CONVPATH", 1043: "SQLITE_CONSTRAINT_FUNCTION",
    1288: "SQLITE_READONLY_CANTINIT", 1290: "SQLITE_IOERR_DIR_FSYNC",
    1294: "SQLITE_CANTOPEN_DIRTYWAL", 1299: "SQLITE_CONSTRAINT_NOTNULL",
    1544: "SQLITE_READONLY_DIRECTORY", 1546: "SQLITE_IOERR_TRUNCATE",
    1550: "SQLITE_CANTOPEN_SYMLINK", 1555: "SQLITE_CONSTRAINT_PRIMARYKEY",
    1802: "SQLITE_IOERR_FSTAT", 1811: "SQLITE_CONSTRAINT_TRIGGER",
    2058: "SQLITE_IOERR_UNLOCK", 2067: "SQLITE_CONSTRAINT_UNIQUE",
    2314: "SQLITE_IOERR_RDLOCK", 2323: "SQLITE_CONSTRAINT_VTAB",
    2570: "SQLITE_IOERR_DELETE", 2579: "SQLITE_CONSTRAINT_ROWID",
    2826: "SQLITE_IOERR_BLOCKED", 2835: "SQLITE_CONSTRAINT_PINNED",
    3082: "SQLITE_IOERR_NOMEM", 3338: "SQLITE_IOERR_ACCESS",
    3594: "SQLITE_IOERR_CHECKRESERVEDLOCK", 3850: "SQLITE_IOERR_LOCK",
    4106: "SQLITE_IOERR_CLOSE", 4362: "SQLITE_IOERR_DIR_CLOSE",
    4618: "SQLITE_IOERR_SHMOPEN", 4874: "SQLITE_IOERR_SHMSIZE",
    5130: "SQLITE_IOERR_SHMLOCK", 5386: "SQLITE_IOERR_SHMMAP",
    5642: "SQLITE_IOERR_SEEK", 5898: "SQLITE_IOERR_DELETE_NOENT",
    6154: "SQLITE_IOERR_MMAP", 6410: "SQLITE_IOERR_GETTEMPPATH",
    6666: "SQLITE_IOERR_CONVPATH", 6922: "SQLITE_IOERR_VNODE",
    7178: "SQLITE_IOERR_AUTH", 7434: "SQLITE_IOERR_BEGIN_ATOMIC",
    7690: "SQLITE_IOERR_COMMIT_ATOMIC", 7946: "SQLITE_IOERR_ROLLBACK_ATOMIC",
    8202: "SQLITE_IOERR_DATA", 8458: "SQLITE_IOERR_CORRUPTFS",
}
globals().update({name: code for code, name in _ERROR_NAMES.items()})
SQLITE_DENY = 1
SQLITE_IGNORE = 2

# The class CPython raises for each primary result code.
_ERROR_CLASSES = {
    2: InternalError, 12: InternalError,
    1: OperationalError, 3: OperationalError, 4: OperationalError,
    5: OperationalError, 6: OperationalError, 8: OperationalError,
    9: OperationalError, 10: OperationalError, 13: OperationalError,
    14: OperationalError, 15: OperationalError, 16: OperationalError,
    17: OperationalError,
    11: DatabaseError, 18: DataError, 19: IntegrityError, 20: IntegrityError,
    21: InterfaceError, 25: InterfaceError,
}

# Deno gives no errcode for some errors (opening, exec): the message tells.
_MESSAGE_CODES = (
    ("constraint failed", 19), ("database is locked", 5),
    ("database table is locked", 6),
    ("attempt to write a readonly database", 8),
    ("unable to open database file", 14), ("file is not a database", 26),
    ("database disk image is malformed", 11), ("datatype mismatch", 20),
    ("string or blob too big", 18), ("interrupted", 9),
    ("disk I/O error", 10), ("database or disk is full", 13),
)


def _error():
    """The exception for the JavaScript error the bridge call just threw."""
    name, message, code, _errstr, node_code, callback = _js.error().to_py()
    if node_code == "ERR_INVALID_STATE":
        return ProgrammingError("Cannot operate on a closed database.")
    if callback:
        return OperationalError(message)
    if code is None and node_code == "ERR_SQLITE_ERROR":
        code = next((c for text, c in _MESSAGE_CODES if text in message), 1)
    if code is None:
        return InterfaceError(f"{name}: {message}")
    if code & 0xFF == 7:
        return MemoryError()
    error = _ERROR_CLASSES.get(code & 0xFF, DatabaseError)(message)
    error.sqlite_errorcode = code
    error.sqlite_errorname = _ERROR_NAMES.get(
        code, _ERROR_NAMES.get(code & 0xFF, "SQLITE_UNKNOWN"))
    return error


def _call(function, *args):
    try:
        return function(*args)
    except JsException:
        raise _error() from None


# -- adapters and converters -----------------------------------------------------


class PrepareProtocol:
    """The protocol objects adapt to before SQLite binds them."""

    def __init__(self, *args, **kwargs):
        pass


PrepareProtocol.__module__ = "sqlite3"

adapters = {}
converters = {}
_adapt_base_types = False
_NO_ALTERNATIVE = object()


def register_adapter(type, adapter, /):
    global _adapt_base_types
    if type in (int, float, str, bytearray):
        _adapt_base_types = True
    adapters[(type, PrepareProtocol)] = adapter


def register_converter(typename, converter, /):
    converters[typename.upper()] = converter


def adapt(obj, proto=PrepareProtocol, alt=_NO_ALTERNATIVE, /):
    adapter = adapters.get((type(obj), proto))
    if adapter is not None:
        return adapter(obj)
    hooks = ((getattr(proto, "__adapt__", None), obj),
             (getattr(obj, "__conform__", None), proto))
    for hook, argument in hooks:
        if hook is None:
            continue
        try:
            adapted = hook(argument)
        except TypeError:
            adapted = None
        if adapted is not None:
            return adapted
    if alt is not _NO_ALTERNATIVE:
        return alt
    raise ProgrammingError("can't adapt")


# The default adapters and converters of CPython 3.11 (deprecated in 3.12).
register_adapter(datetime.date, lambda value: value.isoformat())
register_adapter(datetime.datetime, lambda value: value.isoformat(" "))
register_converter(
    "date", lambda value: datetime.date.fromisoformat(value.decode()))
register_converter(
    "timestamp", lambda value: datetime.datetime.fromisoformat(value.decode()))

_INT64 = range(-(2 ** 63), 2 ** 63)


def _bindable(value, position):
    """A parameter as the bridge takes it, and whether it is a whole float."""
    if type(value) not in (int, float, str, bytes) or _adapt_base_types:
        value = adapt(value, PrepareProtocol, value)
    if value is None or isinstance(value, str):
        return value, False
    if isinstance(value, int):
        if value not in _INT64:
            raise OverflowError(
                "Python int too large to convert to SQLite INTEGER")
        return int(value), False
    if isinstance(value, float):
        return value, value.is_integer()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value), False
    raise ProgrammingError(
        f"Error binding parameter {position}: "
        f"type '{type(value).__name__}' is not supported")


def _bind(names, parameters):
    """The statement's values in SQLite's order, and the whole floats."""
    if isinstance(parameters, dict):
        values = []
        for position, name in enumerate(names, 1):
            if name is None:
                raise ProgrammingError(
                    f"Binding {position} has no name, but you supplied a "
                    "dictionary (which has only names).")
            try:
                values.append(parameters[name[1:]])
            except KeyError:
                raise ProgrammingError(
                    "You did not supply a value for binding parameter "
                    f"{name}.") from None
    elif isinstance(parameters, (list, tuple)) or (
            hasattr(parameters, "__len__")
            and hasattr(parameters, "__getitem__")):
        values = list(parameters)
        if len(values) != len(names):
            raise ProgrammingError(
                "Incorrect number of bindings supplied. The current "
                f"statement uses {len(names)}, and there are {len(values)} "
                "supplied.")
    else:
        raise ProgrammingError("parameters are of unsupported type")
    bound, reals = [], []
    for index, value in enumerate(values):
        value, real = _bindable(value, index + 1)
        bound.append(value)
        if real:
            reals.append(index)
    return to_js(bound), to_js(reals)


# -- rows --------------------------------------------------------------------------


class Row:
    """A row whose values are reached by index or by column name."""

    __slots__ = ("_description", "_values")

    def __init__(self, cursor, data, /):
        if not isinstance(cursor, Cursor):
            raise TypeError("Row() argument 1 must be sqlite3.Cursor")
        if not isinstance(data, tuple):
            raise TypeError("Row() argument 2 must be tuple")
        self._description = cursor.description
        self._values = data

    def keys(self):
        return [column[0] for column in self._description or ()]

    def __getitem__(self, key):
        if isinstance(key, str):
            folded = key.casefold()
            for index, column in enumerate(self._description or ()):
                if column[0].casefold() == folded:
                    return self._values[index]
            raise IndexError("No item with that key")
        return self._values[key]

    def __len__(self):
        return len(self._values)

    def __iter__(self):
        return iter(self._values)

    def __eq__(self, other):
        if not isinstance(other, Row):
            return NotImplemented
        return (self._description == other._description
                and self._values == other._values)

    def __hash__(self):
        return hash(self._description) ^ hash(self._values)


Row.__module__ = "sqlite3"


def _column_name(name, detect_types):
    if detect_types & PARSE_COLNAMES:
        cut = name.find("[")
        if cut >= 0:
            return name[:cut - 1] if cut and name[cut - 1] == " " \
                else name[:cut]
    return name


def _converter(name, decltype, detect_types):
    if detect_types & PARSE_COLNAMES:
        start = name.find("[")
        end = name.find("]", start + 1)
        if start >= 0 and end >= 0:
            found = converters.get(name[start + 1:end].upper())
            if found is not None:
                return found
    if detect_types & PARSE_DECLTYPES and decltype:
        base = decltype.split("(", 1)[0].split(" ", 1)[0]
        return converters.get(base.upper())
    return None


def _as_bytes(value):
    if isinstance(value, bytes):
        return value
    return str(value).encode()


# -- statements ------------------------------------------------------------------

_DML = ("insert", "update", "delete", "replace")


class _Statement:
    __slots__ = ("js", "tail", "names", "columns", "decltypes", "is_dml",
                 "in_use")

    def __init__(self, prepared, sql):
        prepared = prepared.to_py()
        self.js = prepared[0]
        self.tail = prepared[1]
        self.names = prepared[2]
        self.columns = prepared[3]
        self.decltypes = prepared[4]
        head = sql.lstrip(" \t\r\n")
        while head.startswith(("--", "/*")):
            if head.startswith("--"):
                head = head.partition("\n")[2]
            else:
                head = head.partition("*/")[2]
            head = head.lstrip(" \t\r\n")
        self.is_dml = head[:7].lower().startswith(_DML)
        self.in_use = False


def _only_blank(text):
    i = 0
    while i < len(text):
        if text[i] in " \t\r\n\f;":
            i += 1
        elif text.startswith("--", i):
            j = text.find("\n", i)
            i = len(text) if j < 0 else j + 1
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            i = len(text) if j < 0 else j + 2
        else:
            return False
    return True


# -- cursors -----------------------------------------------------------------------

_FIRST_BATCH = 64
_BATCH = 256


class Cursor:
    """A cursor over one connection: execute, then fetch."""

    def __init__(self, connection, /):
        if not isinstance(connection, Connection):
            raise TypeError("Cursor() argument must be sqlite3.Connection")
        self.connection = connection
        self.arraysize = 1
        self.description = None
        self.rowcount = -1
        self.lastrowid = None
        self.row_factory = None
        self._statement = None
        self._iterator = None
        self._rows = []
        self._position = 0
        self._converters = None
        self._closed = False

    def _check(self):
        if self._closed:
            raise ProgrammingError("Cannot operate on a closed cursor.")
        self.connection._check()

    def _release(self):
        if self._iterator is not None:
            iterator, self._iterator = self._iterator, None
            try:
                _js.stop(iterator)
            except JsException:
                pass
        if self._statement is not None:
            self._statement.in_use = False
            self._statement = None
        self._rows = []
        self._position = 0

    def __del__(self):
        try:
            self._release()
        except Exception:
            pass

    def _prepare(self, sql):
        if not isinstance(sql, str):
            raise TypeError(
                f"execute() argument 1 must be str, not {type(sql).__name__}")
        self._check()
        self._release()
        self.description = None
        self.rowcount = -1
        return self.connection._statement(sql)

    def _start(self, statement):
        detect = self.connection._detect_types
        if statement.columns:
            self.description = tuple(
                (_column_name(name, detect), None, None, None, None, None,
                 None) for name in statement.columns)
            found = [_converter(name, decltype, detect) for name, decltype
                     in zip(statement.columns, statement.decltypes)] \
                if detect else []
            self._converters = found if any(found) else None

    def _run(self, statement, parameters, size, implicit=True):
        connection = self.connection
        values, reals = _bind(statement.names, parameters)
        if (implicit and connection._isolation_level is not None
                and statement.is_dml and not connection.in_transaction):
            connection._begin()
        mode = 0 if not statement.columns else 1 if statement.is_dml else 2
        result = _call(_js.execute, connection._db, statement.js, values,
                       reals, mode, size).to_py()
        iterator, rows, fix, done, changes, lastrowid = result
        return iterator, self._convert(rows, fix), changes, lastrowid

    def execute(self, sql, parameters=(), /):
        statement = self._prepare(sql)
        if statement is None:
            return self
        self._start(statement)
        statement.in_use = True
        self._statement = statement
        try:
            iterator, rows, changes, lastrowid = self._run(
                statement, parameters, _FIRST_BATCH)
        except BaseException:
            self._release()
            raise
        self._rows = rows
        self._iterator = iterator
        if iterator is None:
            statement.in_use = False
            self._statement = None
        if statement.is_dml:
            self.rowcount = changes
        self.lastrowid = lastrowid
        return self

    def executemany(self, sql, seq_of_parameters, /):
        statement = self._prepare(sql)
        if statement is None:
            return self
        if statement.columns and not statement.is_dml:
            raise ProgrammingError(
                "executemany() can only execute DML statements.")
        self._start(statement)
        statement.in_use = True
        try:
            total = 0
            for parameters in seq_of_parameters:
                _, _, changes, _ = self._run(statement, parameters, 0)
                total += changes
        finally:
            statement.in_use = False
        if statement.is_dml:
            self.rowcount = total
        return self

    def executescript(self, sql_script, /):
        if not isinstance(sql_script, str):
            raise ValueError("script argument must be unicode.")
        self._check()
        self._release()
        connection = self.connection
        if connection.in_transaction:
            connection._simple("COMMIT")
        rest = sql_script
        while True:
            prepared = _call(_js.prepare, connection._db, rest)
            if prepared is None:
                break
            statement = _Statement(prepared, rest)
            iterator, _, _, _ = self._run(statement, (), 0, implicit=False)
            if iterator is not None:
                _js.stop(iterator)
            rest = statement.tail
        return self

    def _convert(self, rows, fix):
        for k in range(0, len(fix), 3):
            row, column = rows[fix[k]], fix[k + 1]
            if fix[k + 2]:
                row[column] = bytes(row[column])
            else:
                row[column] = float(row[column])
        converters = self._converters
        text_factory = self.connection.text_factory
        if converters is not None or text_factory is not str:
            for row in rows:
                for index, value in enumerate(row):
                    convert = converters and converters[index]
                    if value is None:
                        continue
                    if convert:
                        row[index] = convert(_as_bytes(value))
                    elif isinstance(value, str) and text_factory is not str:
                        encoded = value.encode()
                        row[index] = encoded if text_factory is bytes \
                            else text_factory(encoded)
        factory = self.row_factory
        if factory is None:
            return [tuple(row) for row in rows]
        return [factory(self, tuple(row)) for row in rows]

    def _more(self, size):
        """Reads more rows; False at the end."""
        if self._iterator is None:
            return False
        try:
            rows, fix, done = _call(_js.fetch, self._iterator, size).to_py()
        except BaseException:
            self._release()
            raise
        if done:
            self._iterator = None
            if self._statement is not None:
                self._statement.in_use = False
                self._statement = None
        self._rows = self._rows[self._position:] + self._convert(rows, fix)
        self._position = 0
        return bool(rows)

    def fetchone(self):
        self._check()
        if self._position >= len(self._rows) and not self._more(_BATCH):
            return None
        if self._position >= len(self._rows):
            return None
        row = self._rows[self._position]
        self._position += 1
        return row

    def fetchmany(self, size=None):
        self._check()
        size = self.arraysize if size is None else size
        while len(self._rows) - self._position < size and \
                self._more(max(size, _BATCH)):
            pass
        end = self._position + max(size, 0)
        rows = self._rows[self._position:end]
        self._position += len(rows)
        return rows

    def fetchall(self):
        self._check()
        while self._more(1 << 30):
            pass
        rows = self._rows[self._position:]
        self._rows, self._position = [], 0
        return rows

    def __iter__(self):
        return self

    def __next__(self):
        row = self.fetchone()
        if row is None:
            raise StopIteration
        return row

    def close(self):
        self._release()
        self._closed = True

    def setinputsizes(self, sizes, /):
        pass

    def setoutputsize(self, size, column=None, /):
        pass


Cursor.__module__ = "sqlite3"


# -- connections -----------------------------------------------------------------

_LEVELS = ("", "DEFERRED", "IMMEDIATE", "EXCLUSIVE")


def _isolation_level(value):
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError("isolation_level must be str or None")
    if value.upper() not in _LEVELS:
        raise ValueError(
            "isolation_level string must be '', 'DEFERRED', 'IMMEDIATE', "
            "or 'EXCLUSIVE'")
    return value.upper()


def _host_path(database, uri):
    """The host path DatabaseSync opens, and whether read-only."""
    if isinstance(database, bytes):
        database = os.fsdecode(database)
    database = os.fspath(database)
    read_only = must_exist = False
    if uri and database.startswith("file:"):
        path, _, query = database[5:].partition("?")
        path = path.partition("#")[0]
        if path.startswith("//"):
            authority, slash, path = path[2:].partition("/")
            if authority not in ("", "localhost"):
                raise OperationalError(
                    f"invalid uri authority: {authority}")
            path = slash + path
        path = unquote(path)
        for key, value in parse_qsl(query, keep_blank_values=True):
            if key == "mode":
                if value == "ro":
                    read_only = True
                elif value == "rw":
                    must_exist = True
                elif value == "memory":
                    path = ":memory:"
                elif value != "rwc":
                    raise OperationalError(f"no such access mode: {value}")
            elif key == "cache":
                if value not in ("shared", "private"):
                    raise OperationalError(f"no such cache mode: {value}")
            elif key in ("immutable", "nolock", "vfs", "psow", "modeof"):
                raise NotSupportedError(
                    f"the URI parameter {key} is not supported over Deno's "
                    "SQLite")
        database = path
    if database in (":memory:", ""):
        return database, read_only
    path = os.path.abspath(database)
    if (read_only or must_exist) and not os.path.exists(path):
        raise OperationalError("unable to open database file")
    return path, read_only


class Connection:
    """An open SQLite database."""

    def __init__(self, database, timeout=5.0, detect_types=0,
                 isolation_level="", check_same_thread=True, factory=None,
                 cached_statements=128, uri=False):
        self._db = None
        path, read_only = _host_path(database, uri)
        self._isolation_level = _isolation_level(isolation_level)
        self._db = _call(_js.open, path, read_only, timeout * 1000)
        self._detect_types = detect_types
        self._cache = OrderedDict()
        self._cache_size = cached_statements
        self.row_factory = None
        self.text_factory = str
        self.Warning, self.Error = Warning, Error
        self.InterfaceError, self.DatabaseError = InterfaceError, DatabaseError
        self.DataError, self.OperationalError = DataError, OperationalError
        self.IntegrityError, self.InternalError = IntegrityError, InternalError
        self.ProgrammingError = ProgrammingError
        self.NotSupportedError = NotSupportedError

    def _check(self):
        if self._db is None:
            raise ProgrammingError("Cannot operate on a closed database.")

    def _statement(self, sql):
        """A prepared statement for sql: cached, unless in use."""
        statement = self._cache.get(sql)
        if statement is not None and not statement.in_use:
            self._cache.move_to_end(sql)
            return statement
        prepared = _call(_js.prepare, self._db, sql)
        if prepared is None:
            return None
        statement = _Statement(prepared, sql)
        if not _only_blank(statement.tail):
            raise ProgrammingError(
                "You can only execute one statement at a time.")
        if self._cache_size > 0 and sql not in self._cache:
            self._cache[sql] = statement
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return statement

    def _simple(self, sql):
        statement = self._statement(sql)
        _call(_js.execute, self._db, statement.js, to_js([]), to_js([]), 0, 0)

    def _begin(self):
        self._simple(f"BEGIN {self._isolation_level}".rstrip())

    @property
    def isolation_level(self):
        return self._isolation_level

    @isolation_level.setter
    def isolation_level(self, value):
        level = _isolation_level(value)
        if level is None:
            self.commit()
        self._isolation_level = level

    @property
    def in_transaction(self):
        self._check()
        return bool(_call(_js.inTransaction, self._db))

    @property
    def total_changes(self):
        self._check()
        return _call(_js.counts, self._db).to_py()[2]

    def cursor(self, factory=Cursor):
        self._check()
        cursor = factory(self)
        if not isinstance(cursor, Cursor):
            raise TypeError("factory must return a cursor")
        if self.row_factory is not None:
            cursor.row_factory = self.row_factory
        return cursor

    def execute(self, sql, parameters=(), /):
        return self.cursor().execute(sql, parameters)

    def executemany(self, sql, parameters, /):
        return self.cursor().executemany(sql, parameters)

    def executescript(self, sql_script, /):
        return self.cursor().executescript(sql_script)

    def commit(self):
        self._check()
        if self.in_transaction:
            self._simple("COMMIT")

    def rollback(self):
        self._check()
        if self.in_transaction:
            self._simple("ROLLBACK")

    def close(self):
        if self._db is not None:
            db, self._db = self._db, None
            for statement in self._cache.values():
                statement.js = None
            self._cache.clear()
            _call(_js.close, db)

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def __enter__(self):
        self._check()
        return self

    def __exit__(self, exc_type, exc_value, traceback):
        if exc_type is None:
            try:
                self.commit()
            except BaseException:
                self.rollback()
                raise
        else:
            self.rollback()
        return False

    def __call__(self, sql, /):
        raise NotSupportedError("Connection() is not callable here")

    # -- functions and aggregates --------------------------------------------------

    def create_function(self, name, narg, func, *, deterministic=False):
        self._check()
        if func is None:
            raise NotSupportedError(
                "removing a function is not supported over Deno's SQLite")

        def call(reals, *args):
            return _result(func(*_arguments(reals, args)))

        _call(_js.createFunction, self._db, name, narg, create_proxy(call),
              deterministic)

    def create_aggregate(self, name, n_arg, aggregate_class):
        self._check()
        if aggregate_class is None:
            raise NotSupportedError(
                "removing an aggregate is not supported over Deno's SQLite")

        def step(instance, reals, *args):
            instance.step(*_arguments(reals, args))

        def finish(instance):
            return _result(instance.finalize())

        _call(_js.createAggregate, self._db, name, n_arg,
              create_proxy(aggregate_class), create_proxy(step),
              create_proxy(finish))

    def create_collation(self, name, callable, /):
        raise NotSupportedError(
            "create_collation is not supported: Deno's SQLite (node:sqlite) "
            "has no collation API")

    def create_window_function(self, name, num_params, aggregate_class, /):
        raise NotSupportedError("window functions are not supported here")

    def set_authorizer(self, authorizer_callback):
        raise NotSupportedError("set_authorizer is not supported here")

    def set_progress_handler(self, progress_handler, n):
        raise NotSupportedError("set_progress_handler is not supported here")

    def set_trace_callback(self, trace_callback):
        raise NotSupportedError("set_trace_callback is not supported here")

    def enable_load_extension(self, enabled, /):
        raise NotSupportedError("extensions are not supported here")

    def load_extension(self, path, /, *, entrypoint=None):
        raise NotSupportedError("extensions are not supported here")

    def interrupt(self):
        raise NotSupportedError("interrupt is not supported here")

    def iterdump(self):
        raise NotSupportedError("iterdump is not supported here")

    def backup(self, target, **kwargs):
        raise NotSupportedError("backup is not supported here")

    def blobopen(self, *args, **kwargs):
        raise NotSupportedError("blobopen is not supported here")

    def serialize(self, *args, **kwargs):
        raise NotSupportedError("serialize is not supported here")

    def deserialize(self, *args, **kwargs):
        raise NotSupportedError("deserialize is not supported here")


Connection.__module__ = "sqlite3"


def _arguments(reals, args):
    """A user-defined function's arguments, as CPython gives them."""
    args = list(args)
    for index, value in enumerate(args):
        if value is not None and not isinstance(value, (int, float, str)):
            args[index] = value.to_bytes()
    for index in reals:
        args[index] = float(args[index])
    return args


def _result(value):
    """A Python result, as the bridge takes it for SQLite."""
    if value is None or isinstance(value, (str, int)):
        if isinstance(value, int) and value not in _INT64:
            raise OverflowError("int too large for SQLite INTEGER")
        return value
    if isinstance(value, float):
        return _js.real(value) if value.is_integer() else value
    if isinstance(value, (bytes, bytearray, memoryview)):
        return to_js(bytes(value))
    raise TypeError(f"unsupported result type {type(value).__name__}")


def connect(database, timeout=5.0, detect_types=0, isolation_level="",
            check_same_thread=True, factory=Connection,
            cached_statements=128, uri=False):
    """Opens a database: a host path (relative to os.getcwd()) or :memory:."""
    return factory(database, timeout, detect_types, isolation_level,
                   check_same_thread, None, cached_statements, uri)
