"""Real servers on 127.0.0.1 for remote-source tests and benchmarks: an S3-compatible one
(moto in server mode: plain HTTP, path-style), a static web server over a folder (counting
the bytes it sends), and one that drops every connection."""

from __future__ import annotations

import functools
import logging
import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

# moto's server takes any credentials; these keep botocore from looking further
S3_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Counter:
    """A served URL and the body bytes sent from it so far."""

    def __init__(self, url: str = "") -> None:
        self.url, self.sent, self.lock = url, 0, threading.Lock()

    def add(self, size: int) -> None:
        with self.lock:
            self.sent += size


@contextmanager
def s3_server() -> Iterator[Counter]:
    """An S3 API at ``.url`` (moto's, credentials from :data:`S3_ENVIRONMENT`); ``.sent``
    counts the body bytes of its answers."""
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    app = DomainDispatcherApplication(create_backend_app)
    counter = Counter()

    def counting(environ, start_response):
        for chunk in app(environ, start_response):
            counter.add(len(chunk))
            yield chunk

    server = make_server(
        "127.0.0.1", 0, counting, threaded=True, request_handler=MotoRequestHandler
    )
    counter.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield counter
    finally:
        server.shutdown()
        thread.join()


def upload(endpoint: str, local: Path, target: str) -> None:
    """Copy a file or a folder (a zarr store) to ``bucket/key`` on the S3 server."""
    import s3fs

    fs = s3fs.S3FileSystem(endpoint_url=endpoint)
    bucket = target.split("/", 1)[0]
    if not fs.exists(bucket):
        fs.mkdir(bucket)
    fs.put(str(local), target, recursive=local.is_dir())


class CountingHandler(SimpleHTTPRequestHandler):
    """Serves a folder read-only and adds the body bytes it sends to ``server.counter``."""

    def log_message(self, *args) -> None:  # quiet
        pass

    def copyfile(self, source, outputfile) -> None:
        data = source.read()
        outputfile.write(data)
        self.server.counter.add(len(data))


@contextmanager
def http_server(folder: Path) -> Iterator[Counter]:
    """``folder`` read-only at ``.url`` (``http://127.0.0.1:PORT``); ``.sent`` counts bytes."""
    handler = functools.partial(CountingHandler, directory=str(folder))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.counter = Counter(f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.counter
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def dropping_server() -> Iterator[str]:
    """A server that accepts each connection and closes it at once, at the returned URL."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except OSError:
                continue
            connection.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join()
        listener.close()


@contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
