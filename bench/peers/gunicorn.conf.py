"""gunicorn settings for the benchmark peer: 2 sync workers (one per core of
the benchmark machine), no access log, and a quick shutdown once standard
input closes, so gunicorn never outlives the driver that started it."""

import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from holamundo import exit_when_stdin_closes  # noqa: E402

workers = 2
worker_class = 'sync'
wsgi_app = 'holamundo:application'


def when_ready(server):
    # SIGINT is gunicorn's quick shutdown: workers go at once.
    exit_when_stdin_closes(lambda: os.kill(os.getpid(), signal.SIGINT))
