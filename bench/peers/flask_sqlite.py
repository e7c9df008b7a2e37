"""Peer: a Flask view with a database (bench/python.ts): one indexed SELECT
and one INSERT per request, on a SQLite file beside this one, in Flask's
tutorial pattern (a connection per request in `g`). The gateway runs it on
its own sqlite3 (Deno's SQLite), gunicorn on CPython's."""

import os
import sqlite3

from flask import Flask, g

DATABASE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bench.db")

app = Flask(__name__)


def db():
    if "db" not in g:
        g.db = sqlite3.connect(DATABASE, timeout=10)
    return g.db


@app.teardown_appcontext
def close_db(_error):
    connection = g.pop("db", None)
    if connection is not None:
        connection.close()


with sqlite3.connect(DATABASE) as setup:
    setup.execute(
        "CREATE TABLE IF NOT EXISTS visits (id INTEGER PRIMARY KEY, path TEXT, n INTEGER)"
    )
    setup.execute("CREATE INDEX IF NOT EXISTS visits_path ON visits (path)")


@app.route("/")
def index():
    connection = db()
    row = connection.execute(
        "SELECT n FROM visits WHERE path = ? ORDER BY id DESC LIMIT 1", ("/",)
    ).fetchone()
    n = (row[0] if row else 0) + 1
    connection.execute("INSERT INTO visits (path, n) VALUES (?, ?)", ("/", n))
    connection.commit()
    return f"<p>Visita {n}</p>"
