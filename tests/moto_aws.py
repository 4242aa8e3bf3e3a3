"""moto's server on loopback with fake credentials, for the AWS parts' tests."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from moto.server import ThreadedMotoServer

REGION = "eu-west-1"


class OneRequestAtATime:
    """moto's server runs requests concurrently and undoes a cancelled transaction by restoring a
    copy of the whole table, erasing other requests' writes; DynamoDB itself does not."""

    def __init__(self, app: Callable[..., Any]) -> None:
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        with self.lock:
            return list(self.app(environ, start_response))


@contextmanager
def moto_server(one_request_at_a_time: bool = False) -> Iterator[str]:
    """Start moto's server with credentials that can only reach it; yield its endpoint URL."""
    with pytest.MonkeyPatch.context() as env:
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
            env.delenv(name, raising=False)
        env.setenv("AWS_ACCESS_KEY_ID", "testing")
        env.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        env.setenv("AWS_DEFAULT_REGION", REGION)
        env.setenv("AWS_CONFIG_FILE", "/nonexistent/aws-config")
        env.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials")
        env.setenv("AWS_EC2_METADATA_DISABLED", "true")
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        if one_request_at_a_time:
            wsgi_server = server._server  # moto offers no hook for wrapping its application
            assert wsgi_server is not None
            wsgi_server.app = OneRequestAtATime(wsgi_server.app)
        host, port = server.get_host_and_port()
        try:
            yield f"http://{host}:{port}"
        finally:
            server.stop()
