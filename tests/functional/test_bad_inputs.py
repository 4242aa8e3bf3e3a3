"""Inputs a person gets wrong: each ends in one `error:` line naming what to fix, exit code 2, no
traceback, and nothing created or written."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sync.cli import app
from sync.state_dynamodb import table as dynamodb_table

EXAMPLES = Path(__file__).parents[2] / "examples"
MODEL = str(EXAMPLES / "scoring.yaml")
HEADER = (EXAMPLES / "leads.csv").read_text("utf-8").splitlines()[0]
FIRST_LEAD = (EXAMPLES / "leads.csv").read_text("utf-8").splitlines()[1]
AS_OF = ["--now", "2026-11-01T12:00:00Z"]
runner = CliRunner()


def refused(folder: Path, *args: str, env: dict[str, str] | None = None) -> str:
    """Run leadq in `folder`; check it refused in one line with exit 2, created nothing there,
    and return that line."""
    before = sorted(folder.rglob("*"))
    result = runner.invoke(app, list(args), env={"COLUMNS": "300", **(env or {})})
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert sorted(folder.rglob("*")) == before
    return lines[0]


def leads_file(folder: Path, *rows: str, name: str = "leads.csv") -> str:
    path = folder / name
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    return str(path)


def score(folder: Path, leads: str, *more: str) -> str:
    output = str(folder / "scored.csv")
    return refused(folder, "score", leads, "-m", MODEL, "-o", output, *AS_OF, *more)


def test_a_five_megabyte_cell_is_refused_with_its_line(tmp_path: Path) -> None:
    leads = leads_file(tmp_path, FIRST_LEAD + "," + "x" * 5_000_000)
    assert score(tmp_path, leads) == (
        "error: leads.csv line 2: the line is longer than 1,048,576 characters; "
        "is this the right file?"
    )


def test_an_activity_with_a_blank_type_is_refused_with_its_line(tmp_path: Path) -> None:
    leads = leads_file(tmp_path, FIRST_LEAD)
    activities = tmp_path / "activities.csv"
    activities.write_text("Lead ID,Activity,Date\nL-1001,,2026-10-01\n", encoding="utf-8")
    assert score(tmp_path, leads, "-a", str(activities)) == (
        "error: activities.csv line 2: the activity type is empty"
    )


def test_a_utf8_file_read_as_utf16_is_refused_with_a_hint(tmp_path: Path) -> None:
    leads = leads_file(tmp_path, FIRST_LEAD)
    assert score(tmp_path, leads, "--encoding", "utf-16") == (
        "error: leads.csv: line 1 is not valid utf-16; if the file is UTF-8, use --encoding utf-8"
    )


def test_an_unknown_output_encoding_is_refused_before_anything_is_read(tmp_path: Path) -> None:
    leads = leads_file(tmp_path, FIRST_LEAD)
    assert score(tmp_path, leads, "--output-encoding", "klingon") == (
        "error: --output-encoding 'klingon' is not an encoding; try utf-8 or utf-8-sig"
    )


def test_an_output_that_is_a_directory_is_refused(tmp_path: Path) -> None:
    leads = leads_file(tmp_path, FIRST_LEAD)
    (tmp_path / "out").mkdir()
    line = refused(tmp_path, "score", leads, "-m", MODEL, "-o", str(tmp_path / "out"), *AS_OF)
    assert line == (
        f"error: {tmp_path / 'out'} is a directory: give the file to write, e.g. "
        f"{tmp_path / 'out' / 'scored.csv'}"
    )


def test_an_output_in_a_missing_directory_is_refused(tmp_path: Path) -> None:
    leads = leads_file(tmp_path, FIRST_LEAD)
    target = tmp_path / "nowhere" / "scored.csv"
    line = refused(tmp_path, "score", leads, "-m", MODEL, "-o", str(target), *AS_OF)
    assert line == f"error: {target}: there is no directory {target.parent}; create it first"


def test_a_model_path_that_is_a_directory_is_refused(tmp_path: Path) -> None:
    leads = leads_file(tmp_path, FIRST_LEAD)
    (tmp_path / "models").mkdir()
    line = refused(
        tmp_path, "score", leads, "-m", str(tmp_path / "models"), "-o", "x.csv", *AS_OF
    )
    assert line == "error: models: is a directory, not a model file"


def test_extra_cells_in_a_ragged_row_are_refused_with_its_line(tmp_path: Path) -> None:
    leads = leads_file(tmp_path, FIRST_LEAD, FIRST_LEAD.replace("L-1001", "L-1002") + ",oops")
    assert score(tmp_path, leads) == (
        "error: leads.csv line 3: 20 cells, but the header names 19 columns; "
        "a value holding the delimiter must be quoted"
    )


def test_an_unterminated_quote_is_refused_instead_of_swallowing_the_file(tmp_path: Path) -> None:
    broken = FIRST_LEAD.replace("Maya", '"Maya')
    rest = [FIRST_LEAD.replace("L-1001", f"L-2{i:03d}") for i in range(5)]
    leads = leads_file(tmp_path, broken, *rest)
    assert score(tmp_path, leads) == (
        'error: leads.csv line 2: a quoted cell starting on this line is never closed '
        '(a missing ")'
    )


def test_a_duplicate_lead_id_is_refused_with_both_lines(tmp_path: Path) -> None:
    other = FIRST_LEAD.replace("L-1001", "L-1002")
    leads = leads_file(tmp_path, FIRST_LEAD, other, FIRST_LEAD)
    assert score(tmp_path, leads) == (
        "error: leads.csv line 4: lead id 'L-1001' again (first on line 2); "
        "each lead must appear once"
    )


def test_a_file_with_carriage_returns_only_is_scored_like_any_other(tmp_path: Path) -> None:
    source = (EXAMPLES / "leads.csv").read_text("utf-8")
    old_mac = tmp_path / "mac.csv"
    old_mac.write_text(source.replace("\r\n", "\n").replace("\n", "\r"), encoding="utf-8")
    shutil.copy(EXAMPLES / "leads.csv", tmp_path / "unix.csv")
    for name in ("mac", "unix"):
        output = str(tmp_path / f"{name}-scored.csv")
        leads = str(tmp_path / f"{name}.csv")
        result = runner.invoke(app, ["score", leads, "-m", MODEL, "-o", output, *AS_OF])
        assert result.exit_code == 0, result.output
    mac = (tmp_path / "mac-scored.csv").read_text("utf-8").splitlines()
    unix = (tmp_path / "unix-scored.csv").read_text("utf-8").splitlines()
    assert mac == unix and len(mac) == 21


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le"])
def test_a_utf16_export_is_read_and_written_back_in_utf16(tmp_path: Path, encoding: str) -> None:
    leads = tmp_path / "leads.csv"
    leads.write_text(HEADER + "\n" + FIRST_LEAD + "\n", encoding=encoding)
    output = tmp_path / "scored.csv"
    result = runner.invoke(
        app, ["score", str(leads), "-m", MODEL, "-o", str(output), "-e", encoding, *AS_OF]
    )
    assert result.exit_code == 0, result.output
    assert output.read_text(encoding).splitlines()[1].startswith("L-1001,Maya,Okafor,")


# ---- settings, state and the CRM's address: `leadq sync` and `leadq audit` -------------------


@pytest.fixture
def settings_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty folder to run in, with no LEADQ_* variable set: each test sets its own."""
    import os

    for name in [n for n in os.environ if n.startswith(("LEADQ_", "AWS_"))]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def closed_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


HUBSPOT = {"LEADQ_HUBSPOT_ACCESS_TOKEN": "pat-na1-x", "LEADQ_MODEL_PATH": MODEL}


def sync(folder: Path, env: dict[str, str], *more: str) -> str:
    return refused(folder, "sync", "--dry-run", *more, env={**HUBSPOT, **env})


def test_a_state_url_of_no_known_kind_is_refused(settings_folder: Path) -> None:
    assert sync(settings_folder, {"LEADQ_STATE_URL": "postgres://db/leadq"}) == (
        "error: LEADQ_STATE_URL: expected sqlite:///path/state.db or "
        "dynamodb://table-name?region=eu-west-1 (got 'postgres://db/leadq')"
    )


def test_a_state_file_that_is_no_database_is_refused(settings_folder: Path) -> None:
    (settings_folder / "state.db").write_text("not a database, just text\n")
    env = {"LEADQ_STATE_URL": "sqlite:///state.db"}
    assert refused(settings_folder, "audit", "123", env=env) == (
        "error: state.db is not a leadq state file (SQLite says: file is not a database); "
        "point LEADQ_STATE_URL at another file, or move this one away"
    )


@pytest.mark.parametrize("command", [["audit", "123"], ["status"]])
def test_reading_a_state_file_that_is_not_there_is_refused_and_creates_none(
    settings_folder: Path, command: list[str]
) -> None:
    env = {"LEADQ_STATE_URL": "sqlite:///state/leadq.db"}
    assert refused(settings_folder, *command, env=env) == (
        "error: no leadq state at state/leadq.db: no sync has run with "
        "LEADQ_STATE_URL=sqlite:///state/leadq.db (check the setting, or run leadq sync first)"
    )


def test_a_state_url_naming_a_directory_is_refused(settings_folder: Path) -> None:
    (settings_folder / "state").mkdir()
    env = {"LEADQ_STATE_URL": "sqlite:///state"}
    assert refused(settings_folder, "audit", "123", env=env) == (
        "error: state is a directory: LEADQ_STATE_URL must name a state file, "
        "e.g. sqlite:///state/leadq-state.db"
    )


def test_a_state_file_from_a_newer_leadq_is_refused(settings_folder: Path) -> None:
    import sqlite3

    from sync.state_sqlite import SCHEMA_VERSION, SqliteStateStore

    SqliteStateStore(settings_folder / "state.db").close()
    with sqlite3.connect(settings_folder / "state.db") as db:
        db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (SCHEMA_VERSION + 1,))
    env = {"LEADQ_STATE_URL": "sqlite:///state.db"}
    assert refused(settings_folder, "audit", "123", env=env) == (
        f"error: state.db holds state schema {SCHEMA_VERSION + 1}, written by a newer leadq; "
        f"this leadq reads schema {SCHEMA_VERSION}"
    )


def test_a_dynamodb_state_without_a_region_is_refused(settings_folder: Path) -> None:
    env = {"LEADQ_STATE_URL": "dynamodb://leadq-state", "AWS_CONFIG_FILE": "/nonexistent"}
    assert refused(settings_folder, "audit", "123", env=env) == (
        "error: the DynamoDB state table 'leadq-state' needs a region: add ?region=eu-west-1 to "
        "LEADQ_STATE_URL, or set AWS_REGION"
    )


def test_an_empty_list_of_salesforce_objects_is_refused(settings_folder: Path) -> None:
    env = {"LEADQ_CRM": "salesforce", "LEADQ_SALESFORCE_OBJECTS": "[]"}
    assert sync(settings_folder, env) == (
        "error: LEADQ_SALESFORCE_OBJECTS: name Lead, Contact or both, e.g. Lead,Contact "
        "(got '[]')"
    )


def test_a_missing_ca_bundle_is_refused(settings_folder: Path) -> None:
    env = {"LEADQ_CRM": "salesforce", "LEADQ_SALESFORCE_CA_BUNDLE": "/nowhere/ca.pem"}
    assert sync(settings_folder, env) == (
        "error: LEADQ_SALESFORCE_CA_BUNDLE: path does not point to a file (got '/nowhere/ca.pem')"
    )


def test_a_private_key_file_holding_no_key_is_refused(settings_folder: Path) -> None:
    (settings_folder / "key.pem").write_text("-----BEGIN PRIVATE KEY-----\ngarbage\n")
    env = {
        "LEADQ_CRM": "salesforce",
        "LEADQ_SALESFORCE_CONSUMER_KEY": "3MVG9-app",
        "LEADQ_SALESFORCE_USERNAME": "ops@acme.example",
        "LEADQ_SALESFORCE_PRIVATE_KEY_FILE": "key.pem",
    }  # the key is read before the login request: no request is made
    assert sync(settings_folder, env) == (
        "error: LEADQ_SALESFORCE_PRIVATE_KEY_FILE holds no usable private key: give the "
        "connected app's RSA key as PEM, without a passphrase"
    )


def test_a_password_login_from_api_65_names_the_logins_that_still_work(
    settings_folder: Path,
) -> None:
    env = {
        "LEADQ_CRM": "salesforce",
        "LEADQ_SALESFORCE_USERNAME": "ops@acme.example",
        "LEADQ_SALESFORCE_PASSWORD": "secret",
        "LEADQ_SALESFORCE_API_VERSION": "66.0",
    }  # refused before any request: Salesforce serves SOAP login() only up to 64.0
    assert sync(settings_folder, env) == (
        "error: the password login does not work with LEADQ_SALESFORCE_API_VERSION=66.0: "
        "Salesforce serves SOAP login() only up to API 64.0 (and retires it in Summer '27). Log "
        "in with JWT bearer (LEADQ_SALESFORCE_CONSUMER_KEY, LEADQ_SALESFORCE_PRIVATE_KEY_FILE, "
        "LEADQ_SALESFORCE_USERNAME) or client credentials (LEADQ_SALESFORCE_CONSUMER_KEY, "
        "LEADQ_SALESFORCE_CONSUMER_SECRET, your My Domain in LEADQ_SALESFORCE_LOGIN_URL), or set "
        "LEADQ_SALESFORCE_API_VERSION=64.0"
    )


def test_ids_that_are_no_salesforce_ids_are_refused_before_any_request(
    settings_folder: Path,
) -> None:
    env = {"LEADQ_CRM": "salesforce", "LEADQ_SALESFORCE_SESSION_ID": "00D!x",
           "LEADQ_SALESFORCE_INSTANCE_URL": "https://127.0.0.1:9"}  # nothing listens there
    assert sync(settings_folder, env, "--ids", "00Q5g00000AbCdE", "--ids", "00Q') OR (Id != '",
                "--ids", "123") == (
        "error: --ids \"00Q') OR (Id != '\", '123': not a Salesforce record id (15 or 18 letters "
        "and digits, e.g. 00Q5g00000AbCdEEAV)"
    )


def test_an_env_file_that_is_not_there_is_an_error(settings_folder: Path) -> None:
    assert sync(settings_folder, {}, "--env-file", "prod.env") == (
        "error: --env-file prod.env: no such file"
    )


def test_an_env_file_that_is_not_utf8_is_an_error(settings_folder: Path) -> None:
    (settings_folder / "prod.env").write_bytes(b"LEADQ_CRM=hub\xffspot\n")
    assert sync(settings_folder, {}, "--env-file", "prod.env") == (
        "error: prod.env: not UTF-8 text; save it as UTF-8"
    )


def test_a_now_outside_any_sensible_date_is_refused(settings_folder: Path) -> None:
    assert sync(settings_folder, {}, "--now", "0001-01-01") == (
        "error: --now '0001-01-01' is out of range: give a date from 1970 to 2999"
    )


def test_a_crm_url_that_is_not_http_is_refused_before_any_request(settings_folder: Path) -> None:
    assert sync(settings_folder, {"LEADQ_HUBSPOT_BASE_URL": "ftp://api.hubapi.com"}) == (
        "error: LEADQ_HUBSPOT_BASE_URL: must be an http:// or https:// URL, e.g. "
        "https://api.hubapi.com (got 'ftp://api.hubapi.com')"
    )


def test_an_unreachable_crm_is_an_error_at_once_and_creates_no_state(
    settings_folder: Path,
) -> None:
    port = closed_port()
    line = refused(
        settings_folder,
        "sync",
        env={**HUBSPOT, "LEADQ_HUBSPOT_BASE_URL": f"http://127.0.0.1:{port}"},
    )
    assert line == (
        f"error: cannot reach HubSpot at 127.0.0.1:{port} (Failed to establish a new connection: "
        "[Errno 111] Connection refused): check LEADQ_HUBSPOT_BASE_URL and the network"
    )


@pytest.mark.parametrize(
    ("variable", "token"),
    [("LEADQ_HUBSPOT_ACCESS_TOKEN", "pat-na1-😀"), ("LEADQ_HUBSPOT_ACCESS_TOKEN", "pat\nna1"),
     ("LEADQ_SALESFORCE_SESSION_ID", "00D!x ÿ")],
    ids=["an emoji", "a line break", "a space and a latin letter"],
)
def test_a_token_no_crm_issued_is_refused_without_showing_it(
    settings_folder: Path, variable: str, token: str
) -> None:
    env = {variable: token, "LEADQ_CRM": variable.split("_")[1].lower(),
           "LEADQ_SALESFORCE_INSTANCE_URL": f"http://127.0.0.1:{closed_port()}"}
    line = sync(settings_folder, env)  # before any request: none could carry the token
    assert line == (
        f"error: {variable}: must be the token as the CRM issued it: letters, digits and "
        f"punctuation, no spaces or other characters (got {len(token)} characters, not shown: "
        "it is a secret)"
    )


@pytest.mark.parametrize("objects", ["Lead,Contact", '["Lead", "Contact"]'])
def test_leads_and_contacts_listed_either_way_are_a_valid_setting(
    settings_folder: Path, objects: str
) -> None:
    port = closed_port()  # the settings are taken: the run goes as far as the CRM's address
    env = {"LEADQ_CRM": "salesforce", "LEADQ_SALESFORCE_OBJECTS": objects,
           "LEADQ_SALESFORCE_SESSION_ID": "00D!x",
           "LEADQ_SALESFORCE_INSTANCE_URL": f"http://127.0.0.1:{port}"}
    assert sync(settings_folder, env).startswith(f"error: cannot reach Salesforce at 127.0.0.1:{port}")


def test_a_now_outside_any_sensible_date_is_refused_by_score_too(tmp_path: Path) -> None:
    leads = leads_file(tmp_path, FIRST_LEAD)
    output = str(tmp_path / "scored.csv")
    assert refused(tmp_path, "score", leads, "-m", MODEL, "-o", output, "--now", "0001-01-01") == (
        "error: --now '0001-01-01' is out of range: give a date from 1970 to 2999"
    )


@pytest.mark.parametrize("given", ["9" * 40, "abc", "", "-5", "٣"])
def test_ids_that_are_no_hubspot_ids_are_refused_before_any_request(
    settings_folder: Path, given: str
) -> None:
    env = {"LEADQ_HUBSPOT_BASE_URL": f"http://127.0.0.1:{closed_port()}"}  # nothing listens
    assert sync(settings_folder, env, "--ids", "51", "--ids", given) == (
        f"error: --ids {given!r}: not a HubSpot record id (a whole number up to "
        "9223372036854775807, e.g. 51)"
    )


def test_a_dynamodb_state_without_aws_credentials_is_refused(
    settings_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # tests of the AWS handlers in the same worker may have set credentials for moto, and the
    # process's one boto3 session keeps what it resolved first: start from a fresh session
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(dynamodb_table, "_sessions", [])
    endpoint = f"http://127.0.0.1:{closed_port()}"
    env = {"LEADQ_STATE_URL": f"dynamodb://leadq-state?region=eu-west-1&endpoint_url={endpoint}",
           "AWS_CONFIG_FILE": "/nonexistent", "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
           "AWS_EC2_METADATA_DISABLED": "true"}
    assert refused(settings_folder, "audit", "123", env=env) == (
        "error: the DynamoDB state table 'leadq-state' needs AWS credentials: set "
        "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, or run with a role"
    )


def test_a_dynamodb_endpoint_that_cannot_be_reached_is_one_error_line(
    settings_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    endpoint = f"http://127.0.0.1:{closed_port()}"
    env = {"LEADQ_STATE_URL": f"dynamodb://leadq-state?region=eu-west-1&endpoint_url={endpoint}"}
    assert refused(settings_folder, "audit", "123", env=env) == (
        f'error: Could not connect to the endpoint URL: "{endpoint}/"'
    )


@pytest.mark.parametrize(
    ("variable", "largest"),
    [("LEADQ_OVERLAP_SECONDS", "31,536,000"), ("LEADQ_AUDIT_RETENTION_DAYS", "36,500"),
     ("LEADQ_SERVE_CLAIM_SECONDS", "86,400"), ("LEADQ_READ_PAGE_SIZE", "1,000,000,000")],
)
def test_a_number_setting_too_large_to_mean_anything_is_refused(
    settings_folder: Path, variable: str, largest: str
) -> None:
    assert sync(settings_folder, {variable: "99999999999999999999"}) == (
        f"error: {variable}: input should be less than or equal to {largest.replace(',', '')} "
        "(got '99999999999999999999')"
    )


def test_a_crm_url_with_a_port_past_65535_is_refused_before_any_request(
    settings_folder: Path,
) -> None:
    assert sync(settings_folder, {"LEADQ_HUBSPOT_BASE_URL": "http://127.0.0.1:99999"}) == (
        "error: LEADQ_HUBSPOT_BASE_URL: the port must be a number from 1 to 65535 "
        "(got 'http://127.0.0.1:99999')"
    )


def leadq_process(*args: str) -> subprocess.CompletedProcess[str]:
    """The installed command line as a person runs it (its own process, `main()`)."""
    return subprocess.run(
        [sys.executable, "-m", "sync.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("args", "message", "hint"),
    [
        (("score", "--bogus"), "error: No such option: --bogus", "leadq score --help"),
        (("scroe",), "error: No such command 'scroe'. Did you mean 'score'?", "leadq --help"),
        (("score",), "error: Missing argument 'leads'.", "leadq score --help"),
    ],
)
def test_a_mistyped_command_line_is_one_error_line_and_a_hint(
    args: tuple[str, ...], message: str, hint: str
) -> None:
    finished = leadq_process(*args)
    assert finished.returncode == 2
    assert finished.stderr.splitlines() == [message, f"Try '{hint}' for help."]
    assert "╭" not in finished.stderr


def test_a_bare_leadq_prints_its_help_and_exits_2() -> None:
    finished = leadq_process()
    assert finished.returncode == 2
    assert "Usage: " in finished.stdout + finished.stderr
    assert "error:" not in finished.stderr


def test_help_still_exits_0() -> None:
    finished = leadq_process("score", "--help")
    assert finished.returncode == 0
    assert "Usage: " in finished.stdout
