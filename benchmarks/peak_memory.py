"""A process's own peak memory, read in the child processes that memory benchmarks start.

Only the standard library is imported here, so that reading the figure does not add to it.
"""

from __future__ import annotations

import resource
from pathlib import Path

STATUS = Path("/proc/self/status")


def peak_memory_kb() -> int:
    """This process's peak resident memory in kB.

    On Linux it is the kernel's high-water mark of this process's memory (VmHWM): `ru_maxrss`
    there also keeps the size of the process that forked this one, so a child started by a large
    benchmark run would report its parent's memory instead of its own.
    """
    if STATUS.exists():
        for line in STATUS.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
