"""Peer: a small Flask app (Debian's python3-flask) for bench/python.ts,
served by the gateway through Pyodide and by gunicorn: one page, rendered
by a Jinja2 template."""

from flask import Flask, render_template_string

app = Flask(__name__)

PAGE = """<html>
    <body>
        <h1>Hecho con {{ framework }}</h1>
        <p>Hola mundo!</p>
    </body>
</html>
"""


@app.route('/')
def index():
    return render_template_string(PAGE, framework='Flask')
