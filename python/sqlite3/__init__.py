"""sqlite3 for Python on Pyodide, over Deno's built-in SQLite.

A stand-in for CPython's sqlite3 package (whose _sqlite3 extension Pyodide
ships as a separate wheel, not in its npm package): the DB-API 2.0 module is
sqlite3.dbapi2, as in CPython, and this package re-exports it. What it
supports and leaves out: docs/python.md.
"""

from sqlite3.dbapi2 import *  # noqa: F401,F403
