"""Random options and values for every `leadq` command that ends by itself (score, validate,
explain, schema, sync --dry-run, preview, setup, audit, status, backtest, learn), read from the
commands themselves so a new option is fuzzed too: files that are missing, directories or the wrong
kind, dates out of range, numbers of the wrong type or size, unknown flags and stray arguments.
Settings point at a small sandbox HubSpot portal. Whatever the options, leadq answers with an exit
code the README documents, never a traceback and within 10 seconds, and creates nothing when it
refuses (exit 2) — no partial output file, no state file.

`cli_inputs()` is the hypothesis strategy, `try_cli` runs one; tests/functional/test_input_fuzz.py
runs a quick profile, `python -m benchmarks reliability` a long one (`fuzz_cli`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from hypothesis import strategies as st

from benchmarks.fuzzing import EXIT_CODES, FuzzTally, Outcome, fuzz, invoke
from benchmarks.settings_fuzz import sandboxes
from sync.cli import app

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
FILES = (*(str(EXAMPLES / name) for name in ("leads.csv", "activities.csv", "scoring.yaml",
                                              "sandbox.yaml", "leads.ja.csv")),
         "missing.csv", ".", "out/missing-folder.csv", "out.csv", "/dev/null", "", "-")
# where a command writes: only names inside the folder the command runs in
OUTPUTS = ("out.csv", "out/missing-folder.csv", ".", "", "-", "report.html", "proposal.yaml")
DATES = ("2026-11-01", "2026-11-02T09:00:00Z", "0001-01-01", "9999-12-31T23:59:59", "yesterday",
         "", "2026-02-30", "1e10", "2026-11-01T25:00:00Z", "1767225600000")
VALUES: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(("--output", "--html", "--report"), OUTPUTS),
    "--now": DATES,
    "--outcome-at": (*DATES, "Created", "converted_at"),
    "--encoding": ("utf-8", "utf-16", "cp932", "latin-1", "nope", ""),
    "--output-encoding": ("utf-8", "utf-8-sig", "utf-32", "nope", ""),
    "--top": ("0", "-1", "3", "abc", "99999999999999999999"),
    "--limit": ("0", "-1", "3", "abc", "99999999999999999999"),
    "--runs": ("0", "-1", "3", "abc", "99999999999999999999"),
    "--folds": ("0", "1", "2", "-1", "abc", "1000000"),
    "--sandbox": ("0", "-1", "abc", "30"),
    "--time-split": ("0", "1", "0.2", "-0.5", "nan", "inf", "1e308", "abc"),
    "--regularisation": ("0", "1", "0.2", "-0.5", "nan", "inf", "1e308", "abc"),
    "--ids": ("1", "123", "x'; DROP TABLE", "", "9" * 40),
    "--id": ("L-1001", "", "nope", "=1+1"),
    "--label": ("y", "converted", "", "Budget Confirmed", "Lead ID", "missing"),
    "--positive": ("yes", "1", "", "true"),
    "--keep": ("Budget Confirmed", "", "nope"),
    "--capacity": ("", "abc", "5/week", "0", "-3", "10 per week", "1e9"),
}
ARGUMENTS = ("1", "", "x" * 500, "L-1001", "\x1b[31m", "--", "-")
EXTRAS = ("--bogus", "-x", "--help", "--", "stray", "--now", "-o")
COMMANDS = ("score", "validate", "explain", "schema", "sync", "preview", "setup", "audit",
            "status", "backtest", "learn")


@st.composite
def cli_inputs(draw: st.DrawFn) -> list[str]:
    """`leadq <command> <arguments and options>`, as a list of arguments."""
    name = draw(st.sampled_from(COMMANDS))
    command = typer.main.get_command(app).commands[name]  # type: ignore[attr-defined]
    arguments = [name, "--dry-run"] if name == "sync" else [name]
    for parameter in command.params:
        if parameter.param_type_name == "argument":
            arguments.append(draw(st.sampled_from((*FILES, *ARGUMENTS))))
        elif draw(st.integers(0, 2)) == 0:
            arguments += _option(draw, parameter)
    if draw(st.integers(0, 5)) == 0:
        arguments.insert(draw(st.integers(1, len(arguments))), draw(st.sampled_from(EXTRAS)))
    return arguments


def _option(draw: st.DrawFn, parameter: Any) -> list[str]:
    names = [*parameter.opts, *parameter.secondary_opts]
    flag = draw(st.sampled_from(names))
    if getattr(parameter, "is_flag", False):
        return [flag]
    values = VALUES.get(parameter.opts[0], FILES)
    return [flag, draw(st.sampled_from(values))]


def try_cli(arguments: list[str], folder: Path, environment: dict[str, str]) -> list[Outcome]:
    """The command, run in `folder`; a file it writes (-o, --html, --report) only on success."""
    given = [arguments[i + 1] for i, option in enumerate(arguments[:-1])
             if option in ("-o", "--output", "--html", "--report")]
    checked = given and given[-1] and not {"--", "--help"} & set(arguments)
    written = folder / given[-1] if checked else None
    written = None if written is None or written.exists() else written  # ".": not a new file
    command = arguments[0] if arguments[0] in EXIT_CODES else "sync"
    return [invoke(command, arguments, written, env=environment, folder=folder)]


def fuzz_cli(examples: int, seed: int | None = None) -> FuzzTally:
    """Try `examples` generated command lines; the tally counts what went wrong."""
    with sandboxes() as running:
        environment = running.hubspot
        return fuzz("CLI options", cli_inputs(),
                    lambda made, folder: try_cli(made, folder, environment), examples, seed)
