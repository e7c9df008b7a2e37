import os
from wsgiref.simple_server import make_server

CARPETA = os.path.dirname(os.path.abspath(__file__))


def hola_mundo_app(environ, start_response):
    if environ['PATH_INFO'] == '/python-logo.png':
        with open(os.path.join(CARPETA, 'python-logo.png'), 'rb') as archivo:
            logo = archivo.read()
        start_response('200 OK', [('Content-type', 'image/png')])
        return [logo]

    status = '200 OK'
    headers = [('Content-type', 'text/html; charset=utf-8')]
    start_response(status, headers)
    return ["""
    <html>
        <body>
            <h1>Hecho con Python</h1>
            <h3>Hecho con <3</h3>
            <img src="/python-logo.png" alt="Logo de Python" />
            <hr />
            <p>Hola mundo!</p>
        </body>
    </html>
    """]


if __name__ == "__main__":
    port = 8000
    host = "localhost"
    with make_server(host, port, hola_mundo_app) as httpd:
        print(f"Escuchando en {host}:{port}... [Presiona Ctrl+C para terminar!]")
        httpd.serve_forever()
