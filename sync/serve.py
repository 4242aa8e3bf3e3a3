"""`leadq serve`: the Lambda functions' jobs in one process, for one VM or container and for trying
webhooks locally.

- **HTTP** (stdlib `ThreadingHTTPServer`): `POST /webhooks/hubspot`, `/webhooks/salesforce`,
  `/webhooks/salesforce/callout`. Each request becomes an API Gateway HTTP API event handed to
  `sync.handlers.webhook`: the same routes, checks and answers as the deployed function. A body
  declared over 1 MiB is refused before it is read. `GET /health` answers how much work is queued.
- **Queue**: work is written to the state store (`enqueue_work`) before the webhook is answered,
  claimed there by this process (`claim_work`: an owner name and an expiry, renewed while held)
  and handed to worker threads; a unit leaves the store once done. Several processes may share
  one store: each does only what it claimed, and takes over what nobody holds — what an earlier
  process left, or a crashed one's work once its claim lapsed (`serve_claim_seconds`). A failed
  unit is tried again after a pause, at most `MAX_ATTEMPTS` times, then parked for an hour.
- **Schedules**: an incremental run every `every` (15 minutes) and a full run nightly at `nightly`
  (UTC), both under the engine's run lease.
- **Shutdown** on SIGTERM or SIGINT: stop taking requests, let each worker finish its unit, give
  the claims back, stop. Nothing queued is lost: it is in the store for the next start.

Each worker thread and the scheduler has its own connector; the CRM's rate limit (requests per
10 s) is divided between them so that together they stay under it.
"""

from __future__ import annotations

import base64
import json
import queue
import signal
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from sync.handlers import webhook
from sync.logs import logger, with_correlation_id
from sync.run_identity import lease_holder_name
from sync.services import Services, use_services, utc_now
from sync.settings import Settings
from sync.state import QueuedWork, StateStore, WorkClaim
from sync.state_url import open_state_store
from sync.webhook_intake import Answer, oversized
from sync.work import Work, Workbench, perform

if TYPE_CHECKING:
    from sync.runtime import Runtime

MAX_ATTEMPTS = 5
FIRST_RETRY_SECONDS = 5.0
POLL_SECONDS = 0.2
CLAIM_POLL_SECONDS = 1.0  # how often to look for work nobody holds
RESTORE_LIMIT = 1_000_000
PARK_SECONDS = 3600  # a unit that failed MAX_ATTEMPTS times waits this long before anyone retries
WEBHOOK_PATHS = ("/webhooks/hubspot", "/webhooks/salesforce", "/webhooks/salesforce/callout")


@dataclass(frozen=True)
class ServeOptions:
    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 2
    every: timedelta = timedelta(minutes=15)
    nightly: clock_time = clock_time(2, 30)
    retry_pause: float = FIRST_RETRY_SECONDS


@dataclass(order=True)
class _Retry:
    due: float
    attempts: int = field(compare=False)
    item: QueuedWork = field(compare=False)


@dataclass(frozen=True)
class Claims:
    """How this process holds queued work in a state store it may share with other `leadq
    serve` processes: under its own `owner` name, each claim lasting `ttl` unless renewed."""

    owner: str
    ttl: timedelta = timedelta(seconds=60)

    @classmethod
    def of_this_process(cls, ttl: timedelta = timedelta(seconds=60)) -> Claims:
        """A new owner name: this host and process, and an id of its own."""
        return cls(lease_holder_name(f"serve-{uuid.uuid4().hex[:12]}"), ttl)

    @property
    def renew_every(self) -> float:
        return self.ttl.total_seconds() / 3


class StoredWorkQueue:
    """The work queue of `leadq serve`: durable in the state store, handed out in memory.

    Work is claimed in the store before a worker takes it (`StateStore.claim_work`), so that
    processes sharing the store never do one unit twice: a webhook's work is claimed by the
    process that queued it, and `claim_available` takes what nobody holds — what an earlier
    process left, or what a crashed one held once its claim lapsed. Claims are renewed while held
    (`renew`) and given back on a clean stop (`release_all`)."""

    def __init__(self, store: StateStore, clock: Callable[[], datetime], retry_pause: float,
                 claims: Claims | None = None, claim_ahead: int = 4) -> None:
        self.store = store
        self.clock = clock
        self.retry_pause = retry_pause
        self.claims = claims or Claims.of_this_process()
        self.claim_ahead = claim_ahead
        self._ready: queue.Queue[tuple[int, QueuedWork]] = queue.Queue()
        self._later: list[_Retry] = []
        self._held: dict[str, QueuedWork] = {}
        self._lock = threading.Lock()

    def send(self, work: Sequence[Work]) -> None:
        now = self.clock()
        items = [QueuedWork(id=f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}", queued_at=now,
                            payload=unit.to_json()) for unit in work]
        self.store.enqueue_work(items, WorkClaim(owner=self.claims.owner,
                                                 expires=now + self.claims.ttl))
        self._hand_out(items)

    def restore(self) -> int:
        """Start on what an earlier process left unfinished; return how many units wait."""
        left = len(self.store.queued_work(limit=RESTORE_LIMIT))
        self.claim_available()
        return left

    def claim_available(self) -> int:
        """Claim queued work that nobody holds (left, released, or its claim lapsed), only as
        much as the workers will soon take (`claim_ahead`), so that processes sharing the store
        share the work; return how many units were claimed."""
        wanted = self.claim_ahead - self.waiting
        return self._hand_out(self._claim(wanted)) if wanted > 0 else 0

    def renew(self) -> None:
        """Renew this process's claims; a unit whose claim was lost is dropped from its hands."""
        with self._lock:
            held = list(self._held)
        if not held:
            return
        kept = {item.id for item in self._claim(len(held), held)}
        with self._lock:
            for lost in set(held) - kept:
                self._held.pop(lost, None)

    def release_all(self) -> None:
        """Give back every claim this process holds (on a clean stop)."""
        with self._lock:
            held, self._held = list(self._held.values()), {}
        self.store.release_work(self.claims.owner, held)

    def take(self, timeout: float) -> tuple[int, QueuedWork] | None:
        self._release_due()
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                attempts, item = self._ready.get(timeout=left)
            except queue.Empty:
                return None
            with self._lock:
                if item.id in self._held:
                    return attempts, item
        return None

    def finish(self, item: QueuedWork) -> None:
        self.store.finish_work([item])
        with self._lock:
            self._held.pop(item.id, None)

    def try_later(self, attempts: int, item: QueuedWork) -> bool:
        """Hand the unit out again after a growing pause; False once it has had its attempts
        (its claim is then pushed `PARK_SECONDS` out: any process tries it again after that)."""
        if attempts >= MAX_ATTEMPTS:
            self.store.claim_work(self.claims.owner, self.clock(),
                                  timedelta(seconds=PARK_SECONDS), ids=[item.id])
            with self._lock:
                self._held.pop(item.id, None)
            return False
        with self._lock:
            due = time.monotonic() + self.retry_pause * 2 ** (attempts - 1)
            self._later.append(_Retry(due, attempts, item))
        return True

    @property
    def waiting(self) -> int:
        with self._lock:
            return self._ready.qsize() + len(self._later)

    def _claim(self, limit: int, ids: Sequence[str] | None = None) -> list[QueuedWork]:
        return self.store.claim_work(self.claims.owner, self.clock(), self.claims.ttl,
                                     limit=max(1, limit), ids=ids)

    def _hand_out(self, items: Sequence[QueuedWork]) -> int:
        """Queue the newly claimed items for the workers (each once); return how many."""
        with self._lock:
            fresh = [item for item in items if item.id not in self._held]
            self._held.update((item.id, item) for item in fresh)
        for item in fresh:
            self._ready.put((0, item))
        return len(fresh)

    def _release_due(self) -> None:
        now = time.monotonic()
        with self._lock:
            due = [entry for entry in self._later if entry.due <= now]
            self._later = [entry for entry in self._later if entry.due > now]
        for entry in due:
            self._ready.put((entry.attempts, entry.item))


def thread_settings(settings: Settings, threads: int) -> Settings:
    """Each thread's share of the CRM's rate limits."""
    return settings.model_copy(update={
        "hubspot_rate_limit": max(1, settings.hubspot_rate_limit // threads),
        "hubspot_search_rate": max(1, settings.hubspot_search_rate // threads),
        "salesforce_rate_limit": max(1, settings.salesforce_rate_limit // threads),
    })


class _ThreadRuntime:
    """One thread's runtime, opened on first use."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._runtime: Runtime | None = None

    def __call__(self) -> Runtime:
        if self._runtime is None:
            from sync.runtime import open_runtime

            self._runtime = open_runtime(self.settings)
        return self._runtime

    def close(self) -> None:
        if self._runtime is not None:
            self._runtime.close()


def api_gateway_event(
    method: str, target: str, headers: dict[str, str], body: bytes
) -> dict[str, Any]:
    """An HTTP request as API Gateway's HTTP API (payload 2.0) would pass it to Lambda. The
    scheme is plain HTTP: put TLS in front and set LEADQ_WEBHOOK_BASE_URL to the public URL."""
    parts = urlsplit(target)
    lowered = {name.lower(): value for name, value in headers.items()}
    request_id = str(uuid.uuid4())
    return {
        "version": "2.0",
        "routeKey": f"{method} {parts.path}",
        "rawPath": parts.path,
        "rawQueryString": parts.query,
        "headers": {**lowered, "x-forwarded-proto": "http"},
        "requestContext": {
            "domainName": lowered.get("host", ""),
            "http": {"method": method, "path": parts.path, "protocol": "HTTP/1.1",
                     "sourceIp": "", "userAgent": lowered.get("user-agent", "")},
            "requestId": request_id,
            "routeKey": f"{method} {parts.path}",
            "stage": "$default",
            "timeEpoch": int(time.time() * 1000),
        },
        "body": base64.b64encode(body).decode(),
        "isBase64Encoded": True,
    }


class _WebhookHttpHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keeps the CRM's connections alive
    server_version = "leadq"
    server: _LeadqHttpServer

    def do_POST(self) -> None:
        headers = dict(self.headers.items())
        refused = oversized(headers)
        if refused is None and self.headers.get("Content-Length") is None:
            refused = Answer.of(411, error="a Content-Length is required")
        if refused is not None:
            self.close_connection = True
            self._send(refused.status, refused.content_type, refused.body.encode())
            return
        body = self.rfile.read(int(self.headers["Content-Length"]))
        response = webhook(api_gateway_event("POST", self.path, headers, body), None)
        payload = response.get("body") or ""
        content = base64.b64decode(payload) if response.get("isBase64Encoded") \
            else str(payload).encode()
        content_type = (response.get("headers") or {}).get("Content-Type", "application/json")
        self._send(int(response["statusCode"]), content_type, content)

    def do_GET(self) -> None:
        if urlsplit(self.path).path != "/health":
            self._send(404, "application/json", b'{"error":"not found"}')
            return
        body = json.dumps({"status": "ok", "waiting": self.server.work.waiting}).encode()
        self._send(200, "application/json", body)

    def _send(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("http request", extra={"request": format % args})


class _LeadqHttpServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], work: StoredWorkQueue) -> None:
        self.work = work
        super().__init__(address, _WebhookHttpHandler)


class LeadqServer:
    """The running process: HTTP server, worker threads, scheduler."""

    def __init__(self, settings: Settings, options: ServeOptions) -> None:
        self.settings = settings
        self.options = options
        store = open_state_store(settings.state_url)
        claims = Claims.of_this_process(timedelta(seconds=settings.serve_claim_seconds))
        self.work = StoredWorkQueue(store, utc_now, options.retry_pause, claims,
                                    claim_ahead=2 * options.workers)
        self.services = Services(settings, queue=self.work, store=store)
        self.stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._runtimes: list[_ThreadRuntime] = []
        self.http = _LeadqHttpServer((options.host, options.port), self.work)

    @property
    def address(self) -> str:
        host, port = self.http.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> int:
        """Install the services, queue what was left, start every thread; return the number of
        units restored."""
        use_services(self.services)
        restored = self.work.restore()
        share = thread_settings(self.settings, self.options.workers + 1)
        for number in range(self.options.workers):
            runtime = self._runtime(share)
            bench = Workbench(share.crm, self.services.store, self.work, runtime)
            self._spawn(f"leadq-worker-{number}", lambda bench=bench: self._work(bench))
        scheduler_runtime = self._runtime(share)
        self._spawn("leadq-scheduler", lambda: self._schedule(scheduler_runtime))
        self._spawn("leadq-claims", self._keep_claims)
        self._spawn("leadq-http", self.http.serve_forever)
        logger.info("leadq serve started", extra={"address": self.address, "restored": restored,
                                                   "workers": self.options.workers})
        return restored

    def stop(self) -> None:
        """Stop taking requests and work; let the units in hand finish."""
        self.stopping.set()
        self.http.shutdown()
        for thread in self._threads:
            thread.join()
        self.http.server_close()
        self.work.release_all()
        for runtime in self._runtimes:
            runtime.close()
        use_services(None)
        logger.info("leadq serve stopped", extra={"left_queued": self.work.waiting})

    def _runtime(self, settings: Settings) -> _ThreadRuntime:
        runtime = _ThreadRuntime(settings)
        self._runtimes.append(runtime)
        return runtime

    def _spawn(self, name: str, target: Callable[[], None]) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _work(self, bench: Workbench) -> None:
        while not self.stopping.is_set():
            taken = self.work.take(POLL_SECONDS)
            if taken is None:
                continue
            attempts, item = taken
            with_correlation_id(item.id)
            try:
                perform(item.payload, bench)
            except Exception:
                if not self.work.try_later(attempts + 1, item):
                    logger.error("work kept failing; it stays queued and is tried again in an "
                                 "hour or at the next start", extra={"work_id": item.id})
                continue
            self.work.finish(item)

    def _keep_claims(self) -> None:
        """Renew the claims on work in hand; take work nobody holds (a crashed process's)."""
        next_renewal = time.monotonic() + self.work.claims.renew_every
        while not self.stopping.wait(min(CLAIM_POLL_SECONDS, self.work.claims.renew_every)):
            try:
                if time.monotonic() >= next_renewal:
                    self.work.renew()
                    next_renewal = time.monotonic() + self.work.claims.renew_every
                self.work.claim_available()
            except Exception:
                logger.exception("could not renew or take claims on queued work; trying again")

    def _schedule(self, runtime: _ThreadRuntime) -> None:
        from sync.scheduled import run_scheduled

        next_incremental = time.monotonic() + self.options.every.total_seconds()
        next_nightly = _next_moment(self.options.nightly, datetime.now(UTC))
        while not self.stopping.wait(POLL_SECONDS):
            kind = None
            if datetime.now(UTC) >= next_nightly:
                kind, next_nightly = "full", _next_moment(self.options.nightly, datetime.now(UTC))
            elif time.monotonic() >= next_incremental:
                kind = "incremental"
            if kind is None:
                continue
            with_correlation_id(f"schedule-{uuid.uuid4().hex[:12]}")
            try:
                run_scheduled(kind, runtime(), self.work, self.settings.fan_out)  # type: ignore[arg-type]
            except Exception:
                logger.exception("scheduled run failed; the next tick tries again",
                                 extra={"kind": kind})
            next_incremental = time.monotonic() + self.options.every.total_seconds()


def _next_moment(at: clock_time, now: datetime) -> datetime:
    today = datetime.combine(now.date(), at, tzinfo=UTC)
    return today if today > now else today + timedelta(days=1)


def serve_until_stopped(settings: Settings, options: ServeOptions,
                        announce: Callable[[str, int], None]) -> None:
    """Run until SIGTERM or SIGINT, then shut down cleanly."""
    server = LeadqServer(settings, options)
    stop = threading.Event()
    for signal_number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signal_number, lambda *_: stop.set())
    restored = server.start()
    announce(server.address, restored)
    stop.wait()
    server.stop()
