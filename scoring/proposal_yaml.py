"""The proposed model as a leadq model file a RevOps admin reviews and adopts.

Sections come in the usual order, each rule on one line with its evidence (and its stability
across the folds) as a comment above it: `# 654 leads, 18.3% converted, weight +0.31; 5/5 folds,
points 12–15`. The file is built from ruamel.yaml's round-trip types, which carry the comments
and the layout, and read back as a model before it is returned.
Plain values follow the loader's YAML rules, so a text that would read as something else (`NO`,
`010`) is quoted.
"""

from __future__ import annotations

import io
import textwrap
from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import BaseModel
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.nodes import ScalarNode
from ruamel.yaml.resolver import VersionedResolver
from ruamel.yaml.scalarstring import (
    DoubleQuotedScalarString,
    FoldedScalarString,
    SingleQuotedScalarString,
)

from scoring.config import (
    Fit,
    FitRule,
    ScoringModel,
)
from scoring.engagement_config import (
    CountRule,
    Engagement,
    EngagementRule,
)
from scoring.frame import BANT_CRITERIA
from scoring.loading import parse_model
from scoring.scorecard import Scorecard

TEXT_WIDTH = 96  # where a long description folds; rules stay on one line however long
SPACED = (  # sections with a blank line above them
    *("fit", "bant", "engagement", "qualification", "stages", "score"),
    *("output", "csv", "predictive", "learn"),
)
PLAIN_CANNOT_START = set("-?:,[]{}#&*!|>'\"%@`")
PLAIN_CANNOT_HOLD = set(":?#,[]{}")
RULE_KEYS = ("id", "label", "when", "activity", "where", "points")


def render_yaml(card: Scorecard, header: Sequence[str] = ()) -> str:
    """The proposal as a leadq model file, each rule with its evidence as a comment."""
    notes = {
        rule_id: f"{found.comment()}; {card.stability[rule_id].text}"
        if rule_id in card.stability else found.comment()
        for rule_id, found in card.evidence.items()
    }  # fmt: skip
    document = _document(card.model, notes)
    for key in document:
        if key in SPACED:
            document.yaml_set_comment_before_after_key(key, before="\n")
    if header:
        document.yaml_set_start_comment("\n".join(f"# {line}" if line else "#" for line in header))
    text = _write(document)
    parse_model(text, source="proposed.yaml")  # a proposal leadq cannot load is a bug here
    return text


def _document(model: ScoringModel, evidence: dict[str, str]) -> CommentedMap:
    document = CommentedMap(name=model.name)
    if model.description:
        document["description"] = _description(" ".join(model.description.split()))
    document["fit"] = _fit(model.fit, evidence)
    if any(getattr(model.bant, name) for name in BANT_CRITERIA):
        document["bant"] = _dump(model.bant)
    document["engagement"] = _engagement(model.engagement, evidence)
    document["qualification"] = _flow(_dump(model.qualification, compact=True))
    document["stages"] = CommentedSeq(_flow(_dump(stage)) for stage in model.stages)
    document["default_stage"] = model.default_stage
    document["score"] = _flow(_dump(model.score))
    sections = {
        "output": _dump(model.output, compact=True),
        "csv": _dump(model.csv, compact=True),
        "predictive": _dump(model.predictive) if model.predictive else None,
        "learn": _dump(model.learn, compact=True),
    }
    document.update({key: value for key, value in sections.items() if value})
    return document


def _fit(fit: Fit, evidence: dict[str, str]) -> CommentedMap:
    return CommentedMap(
        max=_as_written(fit.max), grades=_flow(_dump(fit.grades)), rules=_rules(fit.rules, evidence)
    )


def _engagement(engagement: Engagement, evidence: dict[str, str]) -> CommentedMap:
    return CommentedMap(
        max=_as_written(engagement.max),
        decay=_flow(_dump(engagement.decay)),
        groups=CommentedSeq(_flow(_dump(group)) for group in engagement.groups),
        rules=_rules(engagement.rules, evidence),
    )


def _rules(
    rules: Sequence[FitRule | EngagementRule | CountRule], evidence: dict[str, str]
) -> CommentedSeq:
    """The rules, one a line, each with its comment (`evidence`: rule id → comment) above."""
    listed = CommentedSeq(_flow(_rule_dict(rule)) for rule in rules)
    for index, rule in enumerate(rules):
        if rule.id in evidence:
            comment = evidence[rule.id]
            listed.yaml_set_comment_before_after_key(index, before=comment, indent=4)
    return listed


def _rule_dict(rule: FitRule | EngagementRule | CountRule) -> dict[str, Any]:
    """A rule as people write one: id, label, condition, points, then anything else set."""
    data = rule.model_dump(mode="json", by_alias=True, exclude_defaults=True)
    if not isinstance(rule, CountRule):
        data["points"] = rule.points
    for name in ("when", "where"):
        condition = getattr(rule, name, None)
        if condition is not None:
            data[name] = condition.model_dump(mode="json", by_alias=True, exclude_none=True)
    ordered = {key: data[key] for key in RULE_KEYS if key in data}
    ordered.update({key: value for key, value in data.items() if key not in ordered})
    if isinstance(rule, EngagementRule) and len(rule.activity) == 1:
        ordered["activity"] = rule.activity[0]
    return _as_written(ordered)


def _as_written(value: Any) -> Any:
    """Values as people write them, all the way down: 60.0 → 60, and texts the writer would
    leave plain but the loader would not read back as written, quoted (see `_text`)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        return _text(value)
    if isinstance(value, dict):
        return {key: _as_written(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_as_written(item) for item in value]
    return value


class EitherVersionResolver(VersionedResolver):
    """A plain value is text only when YAML 1.2 (leadq's loader) and YAML 1.1 (older leadq, many
    tools) both read it as text, so the writer quotes `NO`, `yes`, `010` and `0o10` alike."""

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        tag = super().resolve(kind, value, implicit)
        if kind is ScalarNode and tag == self.DEFAULT_SCALAR_TAG:
            return YAML_1_1.resolve(kind, value, implicit)
        return tag


YAML_1_1 = VersionedResolver(version=(1, 1))


def _text(value: str) -> str:
    """Quote a text wherever YAML might not read it back plain: control characters and line
    breaks (NEL too) only survive double quotes; an indicator first, or `:`, `?`, `#` or a
    bracket anywhere, would end or change a plain value. The writer quotes the rest as needed."""
    if not value.isprintable():
        return DoubleQuotedScalarString(value)
    if value[:1] in PLAIN_CANNOT_START or any(char in PLAIN_CANNOT_HOLD for char in value):
        return SingleQuotedScalarString(value)
    return value


def _dump(section: BaseModel, compact: bool = False) -> Any:
    """A section as plain data; `compact` leaves out settings at their defaults."""
    data = section.model_dump(
        mode="json", by_alias=True, exclude_none=True, exclude_defaults=compact
    )
    return _as_written(data)


def _flow(data: dict[str, Any]) -> CommentedMap:
    """A mapping written on one line, `{id: demo, points: 40}`, with everything inside it."""
    mapping = CommentedMap(data)
    mapping.fa.set_flow_style()
    return mapping


def _description(text: str) -> str:
    """Long text folded at spaces into lines that fit the page; it reads back as one line."""
    if not text.isprintable():
        return _text(text)  # a folded block cannot hold control characters
    folded = FoldedScalarString(text)
    folded.fold_pos = list(_fold_positions(text))
    return folded


def _fold_positions(text: str) -> Iterable[int]:
    lines = textwrap.wrap(text, TEXT_WIDTH, break_long_words=False, break_on_hyphens=False)
    position = 0
    for line in lines[:-1]:
        position += len(line)
        yield position  # the space after this line
        position += 1


def _write(document: CommentedMap) -> str:
    writer = YAML()
    writer.Resolver = EitherVersionResolver
    writer.width = 10**6  # never wrap a rule: one rule, one line
    writer.brace_single_entry_mapping_in_flow_sequence = True  # [{not: …}], as the loader reads
    writer.indent(mapping=2, sequence=4, offset=2)
    out = io.StringIO()
    writer.dump(document, out)
    return out.getvalue()
