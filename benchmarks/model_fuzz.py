"""Broken and hostile scoring models, made from the examples, run through `leadq validate` and
`leadq score` as a user would: whatever the file, leadq answers with exit code 0 (and a scored
file) or 2 (one `error:` per problem, and no file), never a traceback, and within 10 seconds.

`model_texts()` is the hypothesis strategy: an example model with keys deleted, values of the
wrong type, huge, NaN or infinite numbers, odd unicode, backtracking regexes, deep nesting and
alias bombs put in its place, or its text cut, spliced or prefixed. `try_model` runs one.
tests/functional/test_model_fuzz.py runs a quick profile; `python -m benchmarks reliability` a
long one (`fuzz_models`).
"""

from __future__ import annotations

import copy
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from hypothesis import strategies as st
from ruamel.yaml import YAML

from benchmarks.fuzzing import FuzzTally, Outcome, fuzz, invoke, with_leads_lost

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
CSV_FILES = {  # the leads, activities and encoding each example model reads
    "scoring.ja.yaml": ("leads.ja.csv", "activities.ja.csv", "cp932"),
}
ENGLISH_CSV = ("leads.csv", "activities.csv", "utf-8")

ODD_TEXTS = (
    "",
    " ",
    "\u202eevil\u202c",  # right-to-left override
    "zero\u200bwidth",
    "\x00nul",
    "\x1b[31mred\x1b[0m",
    "\ufeffbom",
    "💥" * 50,
    "e\u0301" * 30,  # combining accents
    "x" * 100_000,
    "NO",
    "yes",
    "0o17",
    "~",
    '=HYPERLINK("http://evil.example")',
)
TRAP_PATTERNS = ("(a+)+$", "(a|aa)+$", "(.*a){12}", "^(\\w+\\s?)*$", "\\p{Han}+", "[[:alpha:]]")
BAD_PATTERNS = ("(a+)+$", "(a|aa)+$", "(a)\\1", "(?<=a)b", "(?!x)", "[", "\\", "a{1001}", "(?P<n>")
HUGE_NUMBERS = (1e18, -1e18, 10**400, -(10**400), 1e308, 5e-324, float("nan"), float("inf"))
TOKEN = "QQ{kind}{size}QQ"  # a placeholder the text stage replaces with nesting or a bomb


def _example_data() -> dict[str, Any]:
    """Each example model as data; those written for no CSV file get scoring.yaml's mapping."""
    reader = YAML(typ="safe", pure=True)
    found = {path.name: reader.load(path.read_text("utf-8")) for path in EXAMPLES.glob("*.yaml")}
    for name, data in found.items():
        if name not in CSV_FILES:
            data["csv"] = found["scoring.yaml"]["csv"]
    return found


EXAMPLE_DATA = _example_data()


# --------------------------------------------------------------------------- what to put in


def hostile_values() -> st.SearchStrategy[Any]:
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(),
        st.sampled_from(HUGE_NUMBERS),
        st.text(max_size=40),
        st.sampled_from(ODD_TEXTS),
        st.sampled_from(BAD_PATTERNS),
        st.dates(),
    )
    placeholders = st.builds(
        lambda kind, size: TOKEN.format(kind=kind, size=size),
        st.sampled_from(["DEEP", "BOMB"]),
        st.integers(1, 300),
    )
    nested = st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
        max_leaves=8,
    )
    return st.one_of(scalars, placeholders, nested)


# --------------------------------------------------------------------------- changes to a model


def _places(data: Any) -> Iterator[tuple[Any, Any]]:
    """Every (container, key or index) in the data."""
    if isinstance(data, dict):
        for key, value in data.items():
            yield data, key
            yield from _places(value)
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield data, index
            yield from _places(value)


def like(value: Any) -> st.SearchStrategy[Any]:
    """A value of the same kind that a model may or may not accept: extreme, odd or hostile."""
    if isinstance(value, bool):
        return st.one_of(st.booleans(), st.sampled_from(["yes", "NO", "on", 1]))
    if isinstance(value, int | float):
        return st.one_of(
            st.integers(-(10**6), 10**6),
            st.floats(-1e6, 1e6),
            st.sampled_from([0, -1, 1_000_000, 1_000_001, -1_000_000, *HUGE_NUMBERS]),
        )
    if isinstance(value, str):
        return st.one_of(st.text(max_size=30), st.sampled_from(ODD_TEXTS + BAD_PATTERNS))
    return hostile_values()


def _is_gentle_place(container: Any, key: Any) -> bool:
    """A number, a text shown to people, or a `matches` pattern: a valid model stays valid-ish."""
    value = container[key]
    if isinstance(value, int | float) and not isinstance(value, bool):
        return True
    if key in ("label", "name", "description") and isinstance(value, str):
        return True
    return key == "value" and isinstance(container, dict) and container.get("op") == "matches"


def gently(value: Any) -> st.SearchStrategy[Any]:
    """Another value that a model is likely to accept, so that scoring runs with it."""
    if isinstance(value, int | float):
        return st.one_of(st.integers(-(10**6), 10**6), st.floats(-1e6, 1e6))
    odd = [text for text in ODD_TEXTS if 0 < len(text) <= 200 and text.strip()]
    return st.one_of(st.sampled_from(odd + list(TRAP_PATTERNS)), st.text(min_size=1, max_size=50))


@st.composite
def mutated_data(draw: st.DrawFn) -> tuple[str, Any]:
    """(the example's name, its data with one to four changes): for about a third of them, gentle
    changes that a valid model survives, so that scoring itself is tried."""
    name = draw(st.sampled_from(sorted(EXAMPLE_DATA)))
    data = copy.deepcopy(EXAMPLE_DATA[name])
    chance = draw(st.randoms(use_true_random=False))
    gentle = draw(st.sampled_from([True, False, False]))
    for _ in range(draw(st.integers(1, 4))):
        places = [place for place in _places(data) if not gentle or _is_gentle_place(*place)]
        if not places:
            break
        container, key = chance.choice(places)  # uniform: hypothesis favours the first places
        action = draw(st.sampled_from(["tweak", "tweak", "tweak", "replace", "delete", "wrap"]))
        if gentle:
            container[key] = draw(gently(container[key]))
        elif action == "tweak":
            container[key] = draw(like(container[key]))
        elif action == "replace":
            container[key] = draw(hostile_values())
        elif action == "delete":
            del container[key]
        else:
            container[key] = draw(st.sampled_from([[container[key]], {"not": container[key]}]))
    return name, data


def example_text(name: str) -> str:
    """An example model as the fuzzer starts from it (mapped to the CSV files it scores)."""
    return _dump(EXAMPLE_DATA[name])


def _dump(data: Any) -> str:
    writer = YAML(typ="safe", pure=True)
    writer.width = 4096
    out = io.StringIO()
    writer.dump(data, out)
    return out.getvalue()


def _bomb(levels: int) -> str:
    steps = ["&b0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    steps += [f"&b{n} [" + ", ".join([f"*b{n - 1}"] * 9) + "]" for n in range(1, levels + 1)]
    return "[" + ", ".join(steps) + "]"


def _fill_placeholders(text: str) -> str:
    for size in range(300, 0, -1):
        text = text.replace(TOKEN.format(kind="DEEP", size=size), "[" * size + "]" * size)
        text = text.replace(TOKEN.format(kind="BOMB", size=size), _bomb(size % 10))
    return text


SPLICES = (
    ":",
    "- ",
    "[",
    "{",
    "&a ",
    "*a",
    "*nowhere",
    "\t",
    "%YAML 1.1\n",
    "!!python/object:os.system ",
    "? ",
    "|\n",
    "\x00",
    "\ufeff",
    "'",
    '"',
    "#",
    "\n  - ",
    "<<: *a\n",
    "!!binary ",
)


@st.composite
def text_edits(draw: st.DrawFn, text: str) -> str:
    for _ in range(draw(st.sampled_from([0, 0, 0, 1, 2]))):
        position = draw(st.integers(0, len(text)))
        edit = draw(st.sampled_from(["cut", "splice", "splice", "prefix"]))
        if edit == "cut":
            text = text[:position]
        elif edit == "splice":
            text = text[:position] + draw(st.sampled_from(SPLICES)) + text[position:]
        else:
            prefix = draw(
                st.sampled_from(["%YAML 1.1\n---\n", "---\n", "--- !!set\n", "x: &a 1\n"])
            )
            text = prefix + text
    return text


@st.composite
def model_texts(draw: st.DrawFn) -> tuple[str, str]:
    """(the example it was made from, the text of a broken or hostile model)."""
    name, data = draw(mutated_data())
    return name, draw(text_edits(_fill_placeholders(_dump(data))))


# --------------------------------------------------------------------------- running leadq


def try_model(example: str, text: str, directory: Path) -> list[Outcome]:
    """`leadq validate`, then `leadq score` of the example's CSV files, with the model `text`."""
    model = directory / "model.yaml"
    model.write_text(text, encoding="utf-8")
    out = directory / "scored.csv"
    out.unlink(missing_ok=True)
    leads, activities, encoding = CSV_FILES.get(example, ENGLISH_CSV)
    score = [
        *("score", str(EXAMPLES / leads), "-a", str(EXAMPLES / activities), "-e", encoding),
        *("-m", str(model), "-o", str(out), "--now", "2026-11-01"),
    ]
    scored = invoke("score", score, out)
    if scored.exit_code == 0:
        given = (EXAMPLES / leads).read_text(encoding)
        ids = tuple(line.split(",", 1)[0] for line in given.splitlines()[1:])
        written_in = "utf-8" if encoding == "cp932" else encoding
        scored = with_leads_lost(scored, ids, given, out, written_in)
    return [invoke("validate", ["validate", str(model)]), scored]


def fuzz_models(examples: int, seed: int | None = None) -> FuzzTally:
    """Try `examples` generated models; the tally counts what went wrong."""
    return fuzz("models", model_texts(), lambda made, folder: try_model(*made, folder), examples,
                seed, scores_files=True)
