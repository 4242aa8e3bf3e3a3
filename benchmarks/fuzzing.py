"""Generated inputs run through the `leadq` command in this process, each within a deadline, and
a tally of what went wrong: a traceback, an exit code or output file the README does not promise,
a file created by a command that refused (exit 2), a hang (over `HANG_SECONDS` of CPU, or
`HANG_WALL_SECONDS` of wall time when it waits on nothing it can finish), or a lead of the input
missing from a scored file. Used by the fuzz tests and `python -m benchmarks reliability`.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import signal
import socket
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import chdir, contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as with_seed
from hypothesis import strategies as st
from typer.testing import CliRunner

from sync.cli import app

HANG_SECONDS = 10
# A command that spins is caught by the CPU it burns, which a busy machine does not inflate; one
# that blocks (a socket, a lock) burns none and is caught by this wall-clock deadline instead.
HANG_WALL_SECONDS = 60
# the exit codes the README promises: 1 (leads a CRM refused, ids not in it) for sync alone
CHECKED_COMMANDS = ("validate", "score", "explain", "audit", "status", "backtest", "learn",
                    "setup", "preview", "schema")
EXIT_CODES = {
    **{command: frozenset({0, 2}) for command in CHECKED_COMMANDS},
    "sync": frozenset({0, 1, 2}),
}


class HangError(Exception):
    """Raised in a command that ran well past HANG_SECONDS."""


@dataclass(frozen=True)
class Outcome:
    command: str
    exit_code: int | None
    seconds: float  # CPU time of this process while the command ran
    traceback: str | None = None  # the exception that escaped, as "Type: message"
    problem: str | None = None  # an exit code or file left behind that the README does not allow
    leads_lost: tuple[str, ...] = ()  # ids of the input missing from the scored file

    @property
    def hung(self) -> bool:
        return self.seconds > HANG_SECONDS or self.traceback == "Hang"


def invoke(
    command: str,
    arguments: list[str],
    output: Path | None = None,
    env: Mapping[str, str] | None = None,
    folder: Path | None = None,
) -> Outcome:
    """`leadq <arguments>`; `output` is the file the command writes on success, and only then;
    `env` the LEADQ_* settings (none other from this process's environment); run in `folder`,
    where a command that refuses (exit 2) must create nothing."""
    before = _files(folder)
    started = time.process_time()
    with _deadline(HANG_SECONDS + 5, HANG_WALL_SECONDS), chdir(folder or Path.cwd()):
        result = CliRunner().invoke(app, arguments, env=_environment(env))
    seconds = time.process_time() - started
    escaped = None if isinstance(result.exception, SystemExit) else result.exception
    traceback = None
    if isinstance(escaped, HangError):
        traceback = "Hang"
    elif escaped is not None:
        traceback = f"{type(escaped).__name__}: {escaped}"[:500]
    elif "Traceback (most recent call last)" in result.output:
        traceback = result.output[-500:]
    problem = _problem(command, result.exit_code, result.output, output)
    created = _files(folder) - before
    if result.exit_code == 0:  # the output, and the state a command that succeeded may keep
        created = {p for p in created if p != output and ".db" not in p.suffixes}
    if problem is None and created and (result.exit_code == 2 or output is not None):
        problem = f"{command} exited {result.exit_code} but created {sorted(created)[:3]}"
    return Outcome(command, result.exit_code, seconds, traceback, problem)


def _environment(env: Mapping[str, str] | None) -> dict[str, str | None]:
    """This process's LEADQ_* and AWS_* variables removed, `env` set instead (when given)."""
    if env is None:
        return {"COLUMNS": "120"}
    removed = {name: None for name in os.environ if name.startswith(("LEADQ_", "AWS_"))}
    quiet_aws = {"AWS_CONFIG_FILE": "/nonexistent", "AWS_EC2_METADATA_DISABLED": "true"}
    return {**removed, "COLUMNS": "120", **quiet_aws, **env}


def _files(folder: Path | None) -> set[Path]:
    return set() if folder is None else set(folder.rglob("*"))


def with_leads_lost(outcome: Outcome, ids: tuple[str, ...], given: str, scored: Path,
                    encoding: str) -> Outcome:
    """`outcome` of a command that wrote `scored` (in `encoding`): the `ids` that are in the
    input text `given` and not in the scored file were lost."""
    written = scored.read_bytes().decode(encoding, errors="replace")
    return replace(outcome, leads_lost=tuple(i for i in ids if i in given and i not in written))


@contextmanager
def _deadline(cpu_seconds: float, wall_seconds: float) -> Iterator[None]:
    """HangError raised in the command once it has burnt `cpu_seconds` of CPU (SIGPROF) or
    waited `wall_seconds` (SIGALRM), whichever comes first."""

    def interrupt(signum: int, frame: Any) -> None:
        raise HangError

    timers = ((signal.SIGPROF, signal.ITIMER_PROF, cpu_seconds),
              (signal.SIGALRM, signal.ITIMER_REAL, wall_seconds))
    previous = [signal.signal(signum, interrupt) for signum, _, _ in timers]
    for _, timer, seconds in timers:
        signal.setitimer(timer, seconds)
    try:
        yield
    finally:
        for (signum, timer, _), handler in zip(timers, previous, strict=True):
            signal.setitimer(timer, 0)
            signal.signal(signum, handler)


def _problem(command: str, code: int, printed: str, output: Path | None) -> str | None:
    if code not in EXIT_CODES[command]:
        return f"{command} exited {code}"
    if code == 2 and "error:" not in printed and "─ Error ─" not in printed:
        return f"{command} exited 2 without an error: line"  # ─ Error ─: an option typer refused
    if output is not None and code == 2 and output.exists():
        return f"{command} exited 2 but left {output.name} behind"
    if output is not None and code == 0 and not output.exists():
        return f"{command} exited 0 without writing {output.name}"
    return None


@dataclass
class FuzzTally:
    """What happened to every input of one category: a row of the reliability table."""

    category: str
    tried: int = 0
    tracebacks: list[str] = field(default_factory=list)
    wrong_exit_codes: list[str] = field(default_factory=list)
    hangs: list[str] = field(default_factory=list)
    leads_lost: list[str] = field(default_factory=list)
    scores_files: bool = False  # whether its commands write scored files, checked for lost leads

    def add(self, outcomes: list[Outcome]) -> None:
        self.tried += 1
        for outcome in outcomes:
            if outcome.hung:
                self.hangs.append(f"{outcome.command}: {outcome.seconds:.1f} s of CPU")
            elif outcome.traceback:
                self.tracebacks.append(f"{outcome.command}: {outcome.traceback}")
            if outcome.problem:
                self.wrong_exit_codes.append(outcome.problem)
            self.leads_lost.extend(f"{outcome.command}: {lead}" for lead in outcome.leads_lost)

    @property
    def clean(self) -> bool:
        return not (self.tracebacks or self.wrong_exit_codes or self.hangs or self.leads_lost)

    def counts(self) -> dict[str, int]:
        """The row of the reliability table (leads lost only where a command scores a file)."""
        found = {"tracebacks": len(self.tracebacks), "wrong exit codes": len(self.wrong_exit_codes),
                 "hangs": len(self.hangs)}
        return {**found, "leads lost": len(self.leads_lost)} if self.scores_files else found

    def first_problem(self) -> str:
        found = self.tracebacks or self.wrong_exit_codes or self.hangs or self.leads_lost
        return found[0] if found else ""


@contextmanager
def loopback_only() -> Iterator[None]:
    """Any host name but loopback's is unknown while fuzzing: a generated setting naming a real
    CRM (login.salesforce.com …) or cloud endpoint gets "unknown host", and nothing leaves the
    machine, not even a DNS query."""
    real = socket.getaddrinfo

    def resolve(host: Any, *arguments: Any, **keywords: Any) -> Any:
        if host is not None and not _is_loopback(host):
            raise socket.gaierror(socket.EAI_NONAME, "unknown host (the fuzzer allows loopback)")
        return real(host, *arguments, **keywords)

    socket.getaddrinfo = resolve
    try:
        yield
    finally:
        socket.getaddrinfo = real


def _is_loopback(host: str | bytes) -> bool:
    name = host.decode() if isinstance(host, bytes) else host
    if name.lower() in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(name.strip("[]")).is_loopback
    except ValueError:
        return False


def fuzz(
    category: str,
    inputs: st.SearchStrategy[Any],
    attempt: Callable[[Any, Path], list[Outcome]],
    examples: int,
    seed: int | None = None,
    scores_files: bool = False,
) -> FuzzTally:
    """Try `examples` generated inputs, each by `attempt(made, folder)` in a fresh empty folder;
    the tally counts what went wrong (`scores_files`: leads lost from scored files too)."""
    tally = FuzzTally(category, scores_files=scores_files)
    with tempfile.TemporaryDirectory(prefix="leadq-fuzz-") as directory, loopback_only():

        def one(made: Any) -> None:
            folder = Path(tempfile.mkdtemp(dir=directory))
            try:
                tally.add(attempt(made, folder))
            finally:
                shutil.rmtree(folder, ignore_errors=True)

        generated(inputs, examples, seed)(one)()
    return tally


def generated(
    inputs: st.SearchStrategy[Any], examples: int, seed: int | None = None
) -> Callable[[Callable[[Any], None]], Callable[[], None]]:
    """`generated(strategy, n)(body)()` calls `body` on `n` generated inputs (no shrinking, no
    example database: every input counts once); the same inputs each time unless a `seed`."""

    def run(body: Callable[[Any], None]) -> Callable[[], None]:
        configured = settings(
            max_examples=examples,
            deadline=None,
            database=None,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
            derandomize=seed is None,
        )
        test = configured(given(inputs)(body))
        return test if seed is None else with_seed(seed)(test)

    return run
