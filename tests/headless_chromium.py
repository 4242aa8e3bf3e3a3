"""Headless Chromium for the tests that open leadq's HTML pages: render a page (screenshot or
DOM) and read what its console logged, from Chromium's own log (`--enable-logging=stderr`), where
every console call and uncaught error appears as a `CONSOLE` line. Needs /usr/bin/chromium."""

from __future__ import annotations

import re
import struct
import subprocess
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
WINDOW = (1280, 2400)
CONSOLE_LINE = re.compile(r":CONSOLE(?:\(\d+\))?:?\d*\] (.*)")


def chromium(page: Path, profile: Path, *mode: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            "--enable-logging=stderr",
            "--v=0",
            "--hide-scrollbars",
            f"--window-size={WINDOW[0]},{WINDOW[1]}",
            *mode,
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=90,
        check=True,
    )


def console_messages(stderr: str) -> list[str]:
    return [match.group(1) for match in CONSOLE_LINE.finditer(stderr)]


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return width, height
