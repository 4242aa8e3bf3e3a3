"""Sections of tables that read the same in the terminal (rich) and on an HTML page
(`templates/sections.html.j2`): `leadq preview` and `leadq report handoff` build their sections
once and show them both ways, so the two always agree."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import jinja2
from rich.console import Group
from rich.table import Table

from scoring.report import page_template
from sync.terminal import markup_safe


@dataclass(frozen=True)
class Section:
    title: str
    header: tuple[str, ...]
    rows: list[tuple[str, ...]]
    note: str = ""
    bars: bool = True  # the last column is a share drawn as a bar on the page


def sections_view(sections: list[Section]) -> Group:
    """One table per section, the first column left, the others right."""
    tables = []
    for section in sections:
        table = Table(title=markup_safe(section.title), title_justify="left")
        for index, name in enumerate(section.header):
            table.add_column(name, justify="left" if index == 0 else "right")
        for row in section.rows:
            table.add_row(*(markup_safe(cell) for cell in row))
        if section.note:
            table.caption = markup_safe(section.note)
            table.caption_justify = "left"
        tables.append(table)
    return Group(*tables)


def sections_page(title: str, heading: str, intro: str, sections: list[Section]) -> str:
    """The sections as one self-contained HTML page (autoescaped, no script); the first
    section's note is the `intro`'s to show."""
    return _template().render(
        title=title, heading=heading, intro=intro, sections=sections, bar=_bar_width
    )


def _bar_width(share: str) -> str:
    return share if share.endswith("%") else "0%"


@cache
def _template() -> jinja2.Template:
    return page_template("sync", "sections.html.j2")
