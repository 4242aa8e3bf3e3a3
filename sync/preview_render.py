"""A preview's totals as tables: the same sections in the terminal and on the HTML page, so the two
always agree."""

from __future__ import annotations

from rich.console import Group

from sync.preview import WEEKS, Preview
from sync.sections import Section, sections_page, sections_view

GRADE_ORDER = "ABCDF"


def preview_sections(preview: Preview) -> list[Section]:
    return [
        _headline(preview),
        _shares("Grades", "grade", _ordered(preview.grades, GRADE_ORDER), preview.leads),
        _shares("Labels", "label", sorted(preview.labels.items()), preview.leads),
        _shares("Stages", "stage", preview.stages.most_common(), preview.leads),
        _weeks(preview),
        _owners(preview),
        _rules(preview),
    ]


def preview_view(preview: Preview) -> Group:
    """The preview in the terminal: one table per section."""
    return sections_view(preview_sections(preview))


def preview_page(preview: Preview) -> str:
    """The preview as one self-contained HTML page (autoescaped, no script)."""
    sections = preview_sections(preview)
    return sections_page(
        f"leadq go-live preview: {preview.model_name}", "Go-live preview",
        f"Nothing was written to the CRM. {sections[0].note}", sections,
    )


# --------------------------------------------------------------------------- sections


def _headline(preview: Preview) -> Section:
    stages = "/".join(preview.qualified_stages)
    requests = sum(preview.requests.values())
    rows = [
        ("leads scored", f"{preview.leads:,}"),
        (f"in a qualified stage ({stages}) now", f"{preview.qualified_now:,}"),
        (f"would become {stages} at go-live", f"{preview.newly_qualified:,}"),
        (f"would become {stages} per week (last {WEEKS} weeks)", f"{preview.per_week:,.1f}"),
        ("API requests (reads only; nothing written)", f"{requests:,}"),
        ("time", f"{preview.seconds:.1f} s"),
    ]
    note = (
        f"Model {preview.model_name!r}, version {preview.model_version}; scored as of "
        f"{preview.now:%Y-%m-%d %H:%M} UTC."
    )
    return Section("Go-live preview", ("what", "value"), rows, note, bars=False)


def _shares(title: str, what: str, counts: list[tuple[str, int]], total: int) -> Section:
    rows = [(name, f"{count:,}", _percent(count, total)) for name, count in counts]
    return Section(title, (what, "leads", "share"), rows)


def _weeks(preview: Preview) -> Section:
    rows = [
        (f"{7 * week + 1}–{7 * (week + 1)} days before", f"{count:,}")
        for week, count in enumerate(preview.weekly)
    ]
    stages = "/".join(preview.qualified_stages)
    note = (
        f"Leads the model qualifies ({stages}) in each of the last {WEEKS} weeks: qualified at the "
        "week's end, not at its start, scored from the activities that had happened by then."
    )
    return Section("New qualified leads per week", ("week", "leads"), rows, note, bars=False)


def _owners(preview: Preview) -> Section:
    total = preview.newly_qualified
    rows = [
        (owner, f"{count:,}", _percent(count, total))
        for owner, count in preview.owners.most_common()
    ]
    if preview.unassigned:
        rows.append(("(keep their owner, or no owner found)", f"{preview.unassigned:,}",
                     _percent(preview.unassigned, total)))
    note = "Who would get the leads that become qualified at go-live, under the routing rules."
    return Section("Routing at go-live", ("owner", "leads", "share"), rows, note)


def _rules(preview: Preview) -> Section:
    rows = [
        (rule.label, rule.kind, f"{rule.points / max(preview.leads, 1):+.1f}", f"{rule.leads:,}")
        for rule in preview.top_rules()
    ]
    note = "Rules by the points they give over all leads (after decay and caps), largest first."
    return Section(
        "Top rules by contribution", ("rule", "kind", "points per lead", "leads"), rows, note,
        bars=False,
    )


def _ordered(counts: dict[str, int], order: str) -> list[tuple[str, int]]:
    return [(key, counts[key]) for key in order if counts.get(key)]


def _percent(count: int, total: int) -> str:
    return f"{100 * count / total:.1f}%" if total else "0.0%"
