"""Peer: the course lesson's webapp/holamundo.py, for the HTTP benchmark.

The application is the lesson's, with one change: it returns bytes. The
lesson returns a str, which PEP 3333 forbids on Python 3 (wsgiref answers it
with a 500 and gunicorn with an error), so the page would never be served.
The page is byte for byte the one examples/holamundo.ts sends, so every
server in the comparison sends the same response: keep the two in step.

    python3 bench/peers/holamundo.py <port>          # wsgiref's simple_server
    gunicorn -c bench/peers/gunicorn.conf.py ...     # see bench/http.ts

Either way the server exits once its standard input closes, so it never
outlives the benchmark driver that started it.
"""

import os
import sys
import threading
from wsgiref.simple_server import WSGIRequestHandler, make_server


def application(environ, start_response):
    status = '200 OK'
    headers = [('Content-type', 'text/html; charset=utf-8')]
    start_response(status, headers)
    return ["""
    <html>
        <body>
            <h1>Hecho con Python</h1>
            <h3>Hecho con <3</h3>
            <hr />
            <p>Hola mundo!</p>
        </body>
    </html>
    """.encode('utf-8')]


def exit_when_stdin_closes(stop):
    """Calls stop() from a watcher thread once standard input reaches EOF."""
    def watch():
        sys.stdin.buffer.read()
        stop()
    threading.Thread(target=watch, daemon=True).start()


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):
        # gunicorn writes no access log by default; this peer matches it.
        pass


if __name__ == '__main__':
    httpd = make_server('127.0.0.1', int(sys.argv[1]), application,
                        handler_class=QuietHandler)
    exit_when_stdin_closes(lambda: os._exit(0))
    httpd.serve_forever()
