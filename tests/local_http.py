"""A real HTTP server on 127.0.0.1 for the service doubles (SkyServer, the Legacy Surveys viewer).

A double subclasses `LocalServer`, sets `prefix` (its URL path) and answers each GET in `get`;
scripted faults ("drop": hang up before answering, "truncate": send half the body) are applied
here, as a real network would show them to the client.
"""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import ParseResult, urlparse

# status, content type, body, extra headers, fault to apply while sending (or None)
Answer = tuple[int, str, bytes, dict[str, str], str | None]


class LocalServer:
    """Serves `self.get(url)` on a free port of 127.0.0.1 inside a `with` block."""

    prefix = ""

    def __init__(self) -> None:
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.httpd.daemon_threads = True
        self.httpd.handle_error = lambda request, address: None  # clients hang up on purpose
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def get(self, url: ParseResult) -> Answer:
        raise NotImplementedError

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{self.prefix}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _handler(server: LocalServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # quiet
            pass

        def do_GET(self):
            self._send(*server.get(urlparse(self.path)))

        def _send(self, status, ctype, body, headers, fault):
            if fault == "drop":
                return self._hang_up()
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()
            if fault == "truncate":
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                return self._hang_up()
            self.wfile.write(body)

        def _hang_up(self):
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True

    return Handler
