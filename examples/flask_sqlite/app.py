"""Flask with sqlite3, as Flask's tutorial connects: one connection per
request in ``g.db``, rows as ``sqlite3.Row``, ``init_db`` from schema.sql.

Served by Deno (sqlite3 is Deno's SQLite underneath; see docs/python.md)::

    deno run --allow-net --allow-read \\
      --allow-write=examples/flask_sqlite \\
      server.ts --pythonpath /usr/lib/python3/dist-packages \\
      examples/flask_sqlite/app.py:app

The database is ``notes.db`` beside this file: Python's working folder is
the app's folder, and a relative path is a host path from there.
"""

import os
import sqlite3

from flask import Flask, g, redirect, render_template_string, request, url_for

app = Flask(__name__)
app.config["DATABASE"] = "notes.db"

PAGE = """<!doctype html>
<title>Notes</title>
<h1>Notes</h1>
<form method="post"><input name="body" required> <button>Add</button></form>
<ul>
{% for note in notes %}
  <li>{{ note["body"] }} <small>#{{ note["id"] }}, {{ note["created"] }}</small></li>
{% endfor %}
</ul>
<p>{{ notes|length }} notes</p>
"""


def get_db():
    if "db" not in g:
        g.db = sqlite3.connect(
            app.config["DATABASE"], detect_types=sqlite3.PARSE_DECLTYPES)
        g.db.row_factory = sqlite3.Row
    return g.db


@app.teardown_appcontext
def close_db(exception=None):
    db = g.pop("db", None)
    if db is not None:
        db.close()


def init_db():
    db = get_db()
    with app.open_resource("schema.sql") as f:
        db.executescript(f.read().decode("utf8"))


@app.route("/", methods=["GET", "POST"])
def index():
    db = get_db()
    if request.method == "POST":
        db.execute("INSERT INTO notes (body) VALUES (?)", (request.form["body"],))
        db.commit()
        return redirect(url_for("index"))
    notes = db.execute("SELECT id, created, body FROM notes ORDER BY id").fetchall()
    return render_template_string(PAGE, notes=notes)


# Flask's tutorial runs `flask init-db` once; here the first start does.
if not os.path.exists(app.config["DATABASE"]):
    with app.app_context():
        init_db()
