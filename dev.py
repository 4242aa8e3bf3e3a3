"""Bootstrap and run leadq from a fresh clone: `python3 dev.py demo` or `python3 dev.py test`.

It needs only python3 (with venv and pip), and npm for the deployment tools. It creates `.venv`,
installs leadq with its extras and the npm tools package-lock.json pins (the Serverless Framework
v3, which the packaging test runs). Then it runs the command.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".installed-from"


def _run(*args: str | Path) -> None:
    completed = subprocess.run([str(a) for a in args], cwd=ROOT, check=False)
    if completed.returncode:
        sys.exit(completed.returncode)


def _fingerprint() -> bytes:
    """What the installed tools were installed from: reinstall when any of it changes."""
    manifests = ("pyproject.toml", "package.json", "package-lock.json")
    return b"\0".join((ROOT / name).read_bytes() for name in manifests if (ROOT / name).exists())


def _npm_tools_missing() -> bool:
    return (ROOT / "package.json").exists() and not (ROOT / "node_modules").is_dir()


def _install_npm_tools() -> None:
    """The Serverless Framework and its Python plugin, as package-lock.json pins them."""
    if shutil.which("npm") is None:
        print("dev.py: npm not found: the serverless packaging test needs Node.js", flush=True)
        return
    lock = (ROOT / "package-lock.json").exists()
    _run("npm", "ci" if lock else "install", "--silent", "--no-audit", "--no-fund")


def _install() -> None:
    if not (BIN / "python").exists():
        print("dev.py: creating .venv", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    fingerprint = _fingerprint()
    if STAMP.exists() and STAMP.read_bytes() == fingerprint and not _npm_tools_missing():
        return
    print("dev.py: installing leadq and its dependencies into .venv", flush=True)
    _run(BIN / "python", "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    _run(BIN / "python", "-m", "pip", "install", "--quiet", "-e", ".[dev,learn,aws,sandbox,csv]")
    if (ROOT / "package.json").exists():
        _install_npm_tools()
    STAMP.write_bytes(fingerprint)


def _ensure_chromium() -> None:
    """The HTML report is checked in headless Chromium (Debian's package)."""
    if shutil.which("chromium"):
        return
    if os.name == "posix" and os.geteuid() == 0 and shutil.which("apt-get"):
        print("dev.py: installing Chromium for the report test (apt-get)", flush=True)
        _run("apt-get", "update", "-qq")
        _run("apt-get", "install", "-y", "-qq", "chromium")
        return
    sys.exit("dev.py: the tests need Chromium at /usr/bin/chromium: apt-get install chromium")


def main() -> None:
    command = sys.argv[1:] or ["demo"]
    _install()
    if command[0] == "demo":
        _run(BIN / "leadq", "demo", *command[1:])
    elif command[0] == "test":
        _ensure_chromium()
        _run(BIN / "ruff", "check", ".")
        _run(BIN / "python", "-m", "pytest", "-n", "2", *command[1:])
    elif command[0] == "bench":
        _run(BIN / "python", "-m", "benchmarks", *command[1:])
    else:
        _run(BIN / command[0], *command[1:])


if __name__ == "__main__":
    main()
