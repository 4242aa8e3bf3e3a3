"""Who a run is: `host:pid:run id`, the name it holds its lease and records its writes under, and
whether the process behind such a name has died on this machine (so that what it left behind —
a lease, an unsettled write — can be taken over at once instead of after a timeout)."""

from __future__ import annotations

import os
import socket


def lease_holder_name(run_id: str) -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{run_id}"


def died_here(holder: str) -> bool:
    """True when `holder` names a process of this machine that no longer runs."""
    host, _, rest = holder.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False
