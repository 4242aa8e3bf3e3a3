"""The HTTP machinery every emulator shares: a real threaded server on a loopback port (optionally
TLS with a throwaway CA), fault injection, a rolling-window rate limit and a request log.

An emulator is a WSGI application built from `Emulator`: it implements `dispatch(request)` and says
how its CRM words a rate-limit refusal and a server error. `EmulatorServer` serves it.
"""

from __future__ import annotations

import contextlib
import random
import socket
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from werkzeug.exceptions import HTTPException
from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler
from werkzeug.wrappers import Request, Response
from werkzeug.wsgi import LimitedStream

LOOPBACK = "127.0.0.1"
IDLE_CONNECTION_SECONDS = 30.0
DRAIN_LIMIT_BYTES = 16 * 1024 * 1024


@dataclass
class FaultPlan:
    """How often each fault is injected, as a share of requests (0.0 – 1.0).

    `record_failure` is applied by the emulators to single records inside batch writes.
    """

    rate_limited: float = 0.0
    server_error: float = 0.0
    slow: float = 0.0
    slow_seconds: float = 2.0
    dropped: float = 0.0
    record_failure: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)
        self._lock = threading.Lock()

    def draw(self) -> str | None:
        """Pick the fault for one request, or None."""
        with self._lock:
            roll = self._random.random()
        for name, rate in (
            ("dropped", self.dropped),
            ("rate_limited", self.rate_limited),
            ("server_error", self.server_error),
            ("slow", self.slow),
        ):
            if roll < rate:
                return name
            roll -= rate
        return None

    def record_fails(self) -> bool:
        if not self.record_failure:
            return False
        with self._lock:
            return self._random.random() < self.record_failure


@dataclass(frozen=True)
class LoggedRequest:
    method: str
    path: str
    query: str
    status: int
    started_at: float
    duration_ms: float
    fault: str | None = None


RequestCondition = Callable[[int, LoggedRequest], bool]


class RequestLog:
    """Every request an emulator answered (or dropped), readable by tests.

    `when(condition, action)` lets a test act at an exact request: the action runs once, in the
    thread serving the first request that meets the condition, after the emulator has handled it
    and before the client hears the answer (e.g. kill the client once a write has landed)."""

    def __init__(self) -> None:
        self._entries: list[LoggedRequest] = []
        self._lock = threading.Lock()
        self._triggers: list[tuple[RequestCondition, Callable[[], object]]] = []

    def append(self, entry: LoggedRequest) -> None:
        with self._lock:
            self._entries.append(entry)
            number = len(self._entries)
            waiting, fired = [], []
            for condition, action in self._triggers:
                (fired if condition(number, entry) else waiting).append((condition, action))
            self._triggers = waiting
        for _, action in fired:
            action()

    def when(self, condition: RequestCondition, action: Callable[[], object]) -> None:
        """Run `action` once, at the first request for which `condition(number, entry)` holds;
        `number` counts that request's entry in the log (from 1, since the last `clear`)."""
        with self._lock:
            self._triggers.append((condition, action))

    def entries(self) -> list[LoggedRequest]:
        with self._lock:
            return list(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def count(
        self, method: str | None = None, path_contains: str = "", status: int | None = None
    ) -> int:
        return sum(
            1
            for entry in self.entries()
            if (method is None or entry.method == method)
            and path_contains in entry.path
            and (status is None or entry.status == status)
        )


class RollingWindowLimit:
    """At most `max_requests` in any `interval_seconds` window, like HubSpot's ten-second limit."""

    def __init__(self, max_requests: int, interval_seconds: float) -> None:
        self.max_requests = max_requests
        self.interval_seconds = interval_seconds
        self._times: deque[float] = deque()
        self._lock = threading.Lock()

    def admit(self) -> tuple[bool, int]:
        """Count one request; return (admitted, remaining in the window)."""
        now = time.monotonic()
        with self._lock:
            while self._times and now - self._times[0] >= self.interval_seconds:
                self._times.popleft()
            if len(self._times) >= self.max_requests:
                return False, 0
            self._times.append(now)
            return True, self.max_requests - len(self._times)

    def seconds_until_free(self) -> float:
        with self._lock:
            if not self._times:
                return 0.0
            return max(0.0, self.interval_seconds - (time.monotonic() - self._times[0]))


class DroppedConnectionError(ConnectionError):
    """Raised inside the app to make the server close the connection without an answer."""


class Emulator:
    """Base of a CRM emulator: fault injection and logging around `dispatch`."""

    def __init__(self) -> None:
        self.faults = FaultPlan()
        self.log = RequestLog()

    def dispatch(self, request: Request) -> Response:
        raise NotImplementedError

    def rate_limited_response(self, request: Request) -> Response:
        raise NotImplementedError

    def server_error_response(self, request: Request) -> Response:
        raise NotImplementedError

    def fault_exempt(self, request: Request) -> bool:
        """Requests (such as logins) that injected faults should leave alone."""
        return False

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        started = time.monotonic()
        fault = None if self.fault_exempt(request) else self.faults.draw()
        try:
            response = self._answer(request, fault)
        except DroppedConnectionError:
            self._log(request, 0, started, "dropped")
            _drop(environ)
            raise
        self._log(request, response.status_code, started, fault)
        return response(environ, start_response)

    def _answer(self, request: Request, fault: str | None) -> Response:
        if fault == "dropped":
            raise DroppedConnectionError
        if fault == "slow":
            time.sleep(self.faults.slow_seconds)
        if fault == "rate_limited":
            return self.rate_limited_response(request)
        if fault == "server_error":
            return self.server_error_response(request)
        try:
            return self.dispatch(request)
        except HTTPException as error:
            return error.get_response()

    def _log(self, request: Request, status: int, started: float, fault: str | None) -> None:
        self.log.append(
            LoggedRequest(
                method=request.method,
                path=request.path,
                query=request.query_string.decode("latin-1"),
                status=status,
                started_at=started,
                duration_ms=(time.monotonic() - started) * 1000,
                fault=fault,
            )
        )


def _drop(environ: dict[str, Any]) -> None:
    connection = environ.get("werkzeug.socket")
    if connection is None:
        return
    try:
        linger_then_reset = b"\x01\x00\x00\x00\x00\x00\x00\x00"
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger_then_reset)
        connection.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


class _KeepAliveHandler(WSGIRequestHandler):
    """HTTP/1.1 with persistent connections, as the real CRMs serve them (werkzeug's own handler
    closes every connection). Each request's body is read to its end before the answer, and each
    answer is sent whole with its Content-Length, so the next request on the connection starts
    where this one ended. A connection idle for `timeout` seconds is closed."""

    protocol_version = "HTTP/1.1"
    timeout = IDLE_CONNECTION_SECONDS
    server: _KeepAliveServer

    def setup(self) -> None:
        super().setup()
        self.server.connections.opened(self.connection)

    def finish(self) -> None:
        self.server.connections.closed(self.connection)
        super().finish()

    def parse_request(self) -> bool:
        self.server.connections.busy(self.connection)
        return super().parse_request()

    def handle_one_request(self) -> None:
        super().handle_one_request()
        if not self.server.connections.idle(self.connection):
            self.close_connection = True

    def run_wsgi(self) -> None:
        if self.headers.get("Expect", "").lower().strip(" \t") == "100-continue":
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        environ = self.make_environ()
        body = _bounded_body(environ)
        try:
            status, headers, content = _answer_of(self.server.app, environ)
        except DroppedConnectionError:
            self.close_connection = True
            return
        if not _drain(body):
            self.close_connection = True
        self._send(status, headers, content, head=environ["REQUEST_METHOD"] == "HEAD")

    def _send(self, status: str, headers: list[tuple[str, str]], content: bytes, head: bool
              ) -> None:
        code, _, reason = status.partition(" ")
        self.send_response(int(code), reason)
        for name, value in headers:
            if name.lower() not in _FRAMING_HEADERS:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(content)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if not head:
            self.wfile.write(content)
        self.wfile.flush()

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass

    def log_error(self, format: str, *args: Any) -> None:
        pass

    def log(self, type: str, message: str, *args: Any) -> None:
        pass


_FRAMING_HEADERS = frozenset({"content-length", "transfer-encoding", "connection"})


def _bounded_body(environ: dict[str, Any]) -> IO[bytes]:
    """The request body, ending where the request ends (werkzeug dechunks a chunked body)."""
    if environ.get("wsgi.input_terminated"):
        return environ["wsgi.input"]
    try:
        length = max(0, int(environ.get("CONTENT_LENGTH") or 0))
    except ValueError:
        length = 0
    environ["wsgi.input"] = LimitedStream(environ["wsgi.input"], length)
    return environ["wsgi.input"]


def _drain(body: IO[bytes]) -> bool:
    """Read what the application left of the body; False (close the connection) past the cap."""
    drained = 0
    while drained <= DRAIN_LIMIT_BYTES:
        chunk = body.read(65536)
        if not chunk:
            return True
        drained += len(chunk)
    return False


def _answer_of(app: Any, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes]:
    """Call the WSGI application and collect its whole answer."""
    started: list[tuple[str, list[tuple[str, str]]]] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None
                       ) -> Callable[[bytes], None]:
        started[:] = [(status, headers)]
        return parts.append

    parts: list[bytes] = []
    try:
        chunks = app(environ, start_response)
        try:
            parts.extend(chunks)
        finally:
            if hasattr(chunks, "close"):
                chunks.close()
    except DroppedConnectionError:
        raise
    except Exception:
        return "500 INTERNAL SERVER ERROR", [("Content-Type", "text/plain")], b"internal error"
    status, headers = started[0]
    return status, headers, b"".join(parts)


class _OpenConnections:
    """The server's client connections, and which are between requests (idle)."""

    def __init__(self) -> None:
        self._idle: dict[socket.socket, bool] = {}
        self._closing = False
        self._lock = threading.Lock()

    def opened(self, connection: socket.socket) -> None:
        with self._lock:
            self._idle[connection] = True
        if self._closing:
            _shut(connection)

    def busy(self, connection: socket.socket) -> None:
        with self._lock:
            self._idle[connection] = False

    def idle(self, connection: socket.socket) -> bool:
        """Mark the connection idle; False when the server is closing (close it instead)."""
        with self._lock:
            self._idle[connection] = True
            return not self._closing

    def closed(self, connection: socket.socket) -> None:
        with self._lock:
            self._idle.pop(connection, None)

    def close_idle(self) -> None:
        """On stop: close every idle connection now; busy ones close after their answer."""
        with self._lock:
            self._closing = True
            idle = [connection for connection, is_idle in self._idle.items() if is_idle]
        for connection in idle:
            _shut(connection)


def _shut(connection: socket.socket) -> None:
    with contextlib.suppress(OSError):
        connection.shutdown(socket.SHUT_RDWR)


class _KeepAliveServer(ThreadedWSGIServer):
    def __init__(self, port: int, app: Emulator, tls: TlsFiles | None) -> None:
        self.connections = _OpenConnections()
        self.accepted = 0
        super().__init__(LOOPBACK, port, app, _KeepAliveHandler,
                         ssl_context=tls.context if tls else None)

    def process_request(self, request: Any, client_address: Any) -> None:
        self.accepted += 1
        super().process_request(request, client_address)


@dataclass
class TlsFiles:
    """A throwaway CA and a server certificate for 127.0.0.1 / localhost."""

    ca_pem: Path
    context: ssl.SSLContext = field(repr=False)

    @classmethod
    def create(cls, directory: Path) -> TlsFiles:
        import trustme

        authority = trustme.CA()
        server_cert = authority.issue_cert(LOOPBACK, "localhost")
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        server_cert.configure_cert(context)
        ca_pem = directory / "sandbox-ca.pem"
        authority.cert_pem.write_to_path(str(ca_pem))
        return cls(ca_pem=ca_pem, context=context)


class EmulatorServer:
    """Serve an emulator on a loopback port in a background thread."""

    def __init__(self, app: Emulator, port: int = 0, tls: TlsFiles | None = None) -> None:
        self.app = app
        self.tls = tls
        self._server = _KeepAliveServer(port, app, tls)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def port(self) -> int:
        return self._server.server_port

    @property
    def base_url(self) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{LOOPBACK}:{self.port}"

    @property
    def connections_accepted(self) -> int:
        """TCP connections accepted so far: with keep-alive, a client session reuses one."""
        return self._server.accepted

    def start(self) -> EmulatorServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.connections.close_idle()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
