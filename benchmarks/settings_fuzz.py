"""Wrong, missing and hostile settings — LEADQ_* environment variables, a `.env` file and the file
`--env-file` names — for the commands that read them (`sync --dry-run`, `status`, `audit`,
`validate --crm`, `setup`, `preview`), starting from settings that work against a small sandbox
HubSpot portal or Salesforce org: values of the wrong type, missing credentials, URLs that are not
http(s) or lead nowhere, bad JSON lists, paths that are missing, directories or garbage, state URLs
of every wrong kind, env files that are not UTF-8 or not there. Whatever the settings, leadq
answers with an exit code the README documents (`sync`: 0, 1 or 2; the others 0 or 2), never a
traceback and within 10 seconds, and creates nothing when it refuses.

Every host name but loopback's is unknown while this runs (`fuzzing.loopback_only`): a setting
naming a real CRM makes no request. tests/functional/test_input_fuzz.py runs a quick profile,
`python -m benchmarks reliability` a long one (`fuzz_settings`).
"""

from __future__ import annotations

import socket
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

from hypothesis import strategies as st

from benchmarks.fuzzing import FuzzTally, Outcome, fuzz, invoke
from sync.settings import Settings, variable

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
MODEL = EXAMPLES / "sandbox.yaml"
SANDBOX_LEADS = 12
NOW = "2026-11-02T09:00:00Z"
TEXTS = ("", " ", "x", "pat-na1-wrong", "😀", "a" * 5_000, "${HOME}", "'quoted'", '"', "\\",
         "=1+1", "\x1b[31mred", "null", "[]", "0")
NUMBERS = ("0", "-1", "abc", "", "1.5", "1e3", "99999999999999999999", "10000", " 50 ", "0x10",
           "nan")
PATHS = ("", ".", "missing/file.pem", "/dev/null", "garbage.pem", "folder", str(MODEL),
         str(EXAMPLES / "scoring.yaml"), "broken.yaml")
LISTS = ("Lead", "Contact", "Lead,Contact", "[]", '["Lead"', '["Lead", "Account"]', "Account",
         ",", '{"a": 1}', "[1, 2]", "null", " lead ")
FLAGS = ("true", "false", "yes", "2", "", "maybe")
CRMS = ("hubspot", "salesforce", "HubSpot", "pipedrive", "")
JUNK_LINES = ("garbage", "export LEADQ_CRM=hubspot", "LEADQ_CRM='unterminated", "# a comment",
              "=novalue", "LEADQ_CRM=hub\x00spot", "LEADQ_READ_PAGE_SIZE", "\ufeffLEADQ_CRM=x")
COMMANDS = (
    ("sync", "--dry-run"),
    ("sync", "--dry-run", "--full"),
    ("sync", "--dry-run", "--ids", "1"),
    ("status",),
    ("audit", "1"),
    ("validate", str(MODEL), "--crm"),
    ("setup",),
    ("preview",),
)


@dataclass(frozen=True)
class Sandboxes:
    """The settings that work: one for each sandbox CRM, and a loopback port nothing listens on."""

    hubspot: dict[str, str]
    salesforce: dict[str, str]
    closed_port: int

    def urls(self) -> tuple[str, ...]:
        port = self.closed_port
        return ("", "ftp://127.0.0.1", "http://", "https://", "127.0.0.1", "http://[::1",
                f"http://127.0.0.1:{port}", f"https://localhost:{port}", "http://127.0.0.1:99999",
                "https://login.salesforce.com", "https://acme.my.salesforce.com",
                f"http://user:pw@127.0.0.1:{port}/x?y#z", self.hubspot["LEADQ_HUBSPOT_BASE_URL"],
                self.salesforce["LEADQ_SALESFORCE_INSTANCE_URL"])

    def state_urls(self) -> tuple[str, ...]:
        endpoint = f"http://127.0.0.1:{self.closed_port}"
        return ("sqlite:///state.db", "sqlite:///sub/state.db", "sqlite:///folder",
                "sqlite:///garbage.pem", "sqlite://host/x.db", "sqlite:///", "sqlite:",
                "dynamodb://t", f"dynamodb://t?region=eu-west-1&endpoint_url={endpoint}",
                "dynamodb://t?bogus=1", "postgres://db/leadq", "", "state.db")


@dataclass(frozen=True)
class SettingsInput:
    """The environment, the `.env` file and `--env-file` (bytes, or a path that is no file), and
    the command run."""

    environment: dict[str, str]
    dot_env: bytes | None
    env_file: bytes | str | None
    command: tuple[str, ...]


def _values_for(name: str, annotation: Any, sandboxes: Sandboxes) -> st.SearchStrategy[str]:
    kinds = {*get_args(annotation), annotation}
    if name == "state_url":
        return st.sampled_from(sandboxes.state_urls())
    if name.endswith("_url"):
        return st.sampled_from(sandboxes.urls())
    if name == "crm":
        return st.sampled_from(CRMS)
    if name == "salesforce_objects":
        return st.sampled_from(LISTS)
    if int in kinds:
        return st.sampled_from(NUMBERS)
    if bool in kinds:
        return st.sampled_from(FLAGS)
    if any(isinstance(kind, type) and issubclass(kind, Path) for kind in kinds) or "file" in name:
        return st.sampled_from(PATHS)
    return st.one_of(st.sampled_from(TEXTS), st.text(max_size=20))


@st.composite
def _changes(draw: st.DrawFn, sandboxes: Sandboxes) -> dict[str, str]:
    fields = Settings.model_fields
    names = draw(st.lists(st.sampled_from(sorted(fields)), max_size=4, unique=True))
    return {
        variable(name): draw(_values_for(name, fields[name].annotation, sandboxes))
        for name in names
    }


@st.composite
def _env_file_text(draw: st.DrawFn, sandboxes: Sandboxes) -> bytes:
    lines = [f"{name}={value}" for name, value in draw(_changes(sandboxes)).items()]
    lines += draw(st.lists(st.sampled_from(JUNK_LINES), max_size=2))
    text = "\n".join(draw(st.permutations(lines))).encode("utf-8", errors="replace")
    return text + draw(st.sampled_from([b"", b"", b"\n", b"\xff\xfe", b"LEADQ_CRM=hub\xffspot"]))


@st.composite
def settings_inputs(draw: st.DrawFn, sandboxes: Sandboxes) -> SettingsInput:
    base = draw(st.sampled_from([sandboxes.hubspot, sandboxes.hubspot, sandboxes.salesforce, {}]))
    environment = {**base, **draw(_changes(sandboxes))}
    for name in draw(st.lists(st.sampled_from(sorted(base) or ["LEADQ_CRM"]), max_size=2)):
        environment.pop(name, None)  # a credential or address missing
    environment = {k: v.replace("\x00", "") for k, v in environment.items()}  # no NUL in environ
    dot_env = draw(_env_file_text(sandboxes)) if draw(st.integers(0, 4)) == 0 else None
    env_file: bytes | str | None = None
    if draw(st.integers(0, 2)) == 0:
        env_file = draw(st.one_of(_env_file_text(sandboxes), st.sampled_from(["nowhere.env", "."])))
    return SettingsInput(environment, dot_env, env_file, draw(st.sampled_from(COMMANDS)))


def try_settings(made: SettingsInput, folder: Path) -> list[Outcome]:
    """The command, run in `folder` with the generated settings."""
    (folder / "garbage.pem").write_text("-----BEGIN PRIVATE KEY-----\ngarbage\n")
    (folder / "broken.yaml").write_text("name: [unclosed\n")
    (folder / "folder").mkdir()
    if made.dot_env is not None:
        (folder / ".env").write_bytes(made.dot_env)
    arguments = list(made.command)
    if isinstance(made.env_file, bytes):
        (folder / "given.env").write_bytes(made.env_file)
        arguments += ["--env-file", "given.env"]
    elif made.env_file is not None:
        arguments += ["--env-file", made.env_file]
    if arguments[0] == "sync":
        arguments += ["--now", NOW]
    return [invoke(arguments[0], arguments, env=made.environment, folder=folder)]


@contextmanager
def sandboxes() -> Iterator[Sandboxes]:
    """Both sandbox CRMs, small, with leadq's fields set up, and the settings that reach them."""
    from sandbox.hubspot import start_hubspot
    from sandbox.salesforce import start_salesforce

    with ExitStack() as stack:
        hubspot = stack.enter_context(start_hubspot(
            leads=SANDBOX_LEADS, rate_limit=(1_000_000, 10.0), search_per_second=1_000_000))
        salesforce = stack.enter_context(start_salesforce(leads=SANDBOX_LEADS))
        common = {"LEADQ_MODEL_PATH": str(MODEL), "LEADQ_STATE_URL": "sqlite:///state.db",
                  "LEADQ_OVERLAP_SECONDS": "0"}
        working = Sandboxes(
            {**hubspot.leadq_environment(), **common, "LEADQ_HUBSPOT_RATE_LIMIT": "100000",
             "LEADQ_HUBSPOT_SEARCH_RATE": "100000"},
            {**salesforce.leadq_environment("session"), **common,
             "LEADQ_SALESFORCE_RATE_LIMIT": "100000"},
            _closed_port(),
        )
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="leadq-setup-")))
        for environment in (working.hubspot, working.salesforce):
            done = invoke("setup", ["setup"], env=environment, folder=folder)
            if done.exit_code != 0:
                raise RuntimeError(f"leadq setup failed on a sandbox: {done}")
        yield working


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def fuzz_settings(examples: int, seed: int | None = None) -> FuzzTally:
    """Try `examples` generated settings; the tally counts what went wrong."""
    with sandboxes() as running:
        return fuzz("settings", settings_inputs(running), try_settings, examples, seed)
