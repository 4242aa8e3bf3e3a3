"""What may reach a terminal: text from CRMs, files, models and users with its escape sequences
and control characters removed, so that no value can set a window title, clear the screen, hide
text or forge a hyperlink. `sync/render.py` shows everything through here, and so do error lines.
"""

from __future__ import annotations

import re

from rich.markup import escape

TERMINAL_CONTROLS = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]?"  # CSI: ESC [ parameters, intermediates, a final byte
    r"|\x1b[]PX^_][^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"  # OSC, DCS, SOS, PM, APC: up to BEL or ST
    r"|\x1b[ -/]*[0-~]?"  # any other escape sequence
    r"|[\x00-\x08\x0b-\x1f\x7f-\x9f]"  # every other C0 and C1 control, and DEL
)
LINE_BREAKS = re.compile(r"[\t\n]+")


def terminal_safe(value: object) -> str:
    """Text from a CRM, a file, a model or a user, made harmless for a terminal: escape
    sequences (CSI, OSC …) and C0 / C1 control characters removed, tabs and line breaks turned
    into spaces (the layout adds its own). Everything leadq shows passes through here."""
    return LINE_BREAKS.sub(" ", TERMINAL_CONTROLS.sub("", str(value)))


def markup_safe(value: object) -> str:
    """`terminal_safe` text to put inside console markup: shown as it is, never read as markup."""
    return escape(terminal_safe(value))
