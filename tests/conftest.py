import http.server
import os
import socketserver
import threading

import pytest

os.environ.setdefault("AELIB_PROGRESS", "0")
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(autouse=True)
def _seed_and_threads():
    import aelib

    aelib.seed_everything(0)
    yield


class _Handler(http.server.BaseHTTPRequestHandler):
    """Serves ``payload`` at any path. ``die_after`` bytes, then the connection drops (the
    response announced the full length), like a network that fails mid-download."""

    payload = b""
    die_after = None

    def do_GET(self):  # noqa: N802 (http.server's naming)
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.payload)))
        self.end_headers()
        body = self.payload if self.die_after is None else self.payload[:self.die_after]
        self.wfile.write(body)
        self.wfile.flush()
        if self.die_after is not None:
            self.close_connection = True
            self.connection.shutdown(2)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    """A local HTTP server on a free loopback port; yields (base_url, handler_class)."""
    handler = type("Handler", (_Handler,), {})
    httpd = socketserver.TCPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/", handler
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(autouse=True)
def _close_figures():
    """Every test starts without the figures an earlier one left open."""
    yield
    import matplotlib.pyplot as plt

    plt.close("all")
