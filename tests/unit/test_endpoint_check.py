"""The HTTP backend's endpoint check before streaming, against real sockets on 127.0.0.1: a refused port, an
endpoint that accepts but never answers, a rejected key and an unserved model fail at once naming the URL."""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from clingen.config import GeneratorConfig
from clingen.errors import ConfigError
from clingen.generation.http import check_endpoint

pytestmark = pytest.mark.unit


def serve(status: int, body: dict):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/v1"


def config(url: str, **extra) -> GeneratorConfig:
    return GeneratorConfig(backend="http", url=url, model={"source": "smol"}, **extra)


def test_a_refused_port_is_named():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: connections are refused
        with pytest.raises(ConfigError, match=rf"generator.url http://127.0.0.1:{port}/v1 is not reachable: GET "
                                              rf"http://127.0.0.1:{port}/v1/models failed"):
            check_endpoint(config(f"http://127.0.0.1:{port}/v1"))


def test_an_endpoint_that_never_answers_fails_within_the_timeout():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()  # accepts connections, never replies
        started = time.monotonic()
        with pytest.raises(ConfigError, match=r"is not reachable: .* within 1 s \((TimeoutError|timeout)"):
            check_endpoint(config(f"http://127.0.0.1:{sock.getsockname()[1]}/v1", request_timeout_s=1))
        assert time.monotonic() - started < 5


def test_a_rejected_key_and_an_unserved_model_are_named(monkeypatch):
    monkeypatch.setenv("CLINGEN_TEST_KEY", "sk-wrong")
    server, url = serve(401, {"error": "bad key"})
    with pytest.raises(ConfigError, match=r"refused with HTTP 401; check the key in \$CLINGEN_TEST_KEY"):
        check_endpoint(config(url, api_key_env="CLINGEN_TEST_KEY"))
    server.shutdown()
    server, url = serve(200, {"data": [{"id": "other-model"}]})
    with pytest.raises(ConfigError, match=r"serves \['other-model'\], not generator.model.source='smol'"):
        check_endpoint(config(url))
    server.shutdown()


def test_a_served_model_or_a_server_without_a_model_list_passes():
    server, url = serve(200, {"object": "list", "data": [{"id": "smol"}]})
    assert check_endpoint(config(url)) == ["smol"]
    server.shutdown()
    server, url = serve(404, {"detail": "Not Found"})
    assert check_endpoint(config(url)) == []
    server.shutdown()
