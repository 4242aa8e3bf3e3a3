"""Start either emulator, seeded with a synthetic org, and say how to point leadq at it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from sandbox.orgs import OrgSpec, SynthOrg

SandboxKind = Literal["hubspot", "salesforce"]
SESSION_DAYS = 7  # simple-salesforce sends logins to *.salesforce.com: a session id reaches us


@dataclass(frozen=True)
class SandboxInfo:
    kind: SandboxKind
    base_url: str
    leads: int
    environment: dict[str, str]  # LEADQ_* settings that point leadq at this sandbox
    notes: list[str]


def org_ending_now(leads: int, seed: int) -> SynthOrg:
    """A synthetic org whose history ends this hour. leadq scores as of the real clock, and an
    org that ended on a fixed date would decay further every day (no lead left qualified)."""
    this_hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    return SynthOrg(OrgSpec(leads=leads, seed=seed, now=this_hour))


@contextmanager
def running_sandbox(
    kind: SandboxKind,
    leads: int,
    seed: int,
    port: int,
    db_path: Path | None,
    notify_url: str | None,
) -> Iterator[SandboxInfo]:
    if kind == "hubspot":
        from sandbox.hubspot import start_hubspot

        with start_hubspot(
            org=org_ending_now(leads, seed), port=port, db_path=db_path, webhook_url=notify_url
        ) as hubspot:
            yield SandboxInfo(
                kind=kind,
                base_url=hubspot.base_url,
                leads=leads,
                environment=hubspot.leadq_environment(),
                notes=[
                    f"OAuth app: client id {hubspot.client_id}, "
                    f"refresh token {hubspot.refresh_token}",
                    f"webhook client secret (signature v3): {hubspot.client_secret}",
                    f"portal {hubspot.portal_id}",
                ],
            )
        return
    from sandbox.salesforce import start_salesforce

    with start_salesforce(
        org=org_ending_now(leads, seed),
        port=port,
        db_path=db_path,
        outbound_url=notify_url,
        session_ttl_seconds=SESSION_DAYS * 86400.0,
    ) as salesforce:
        details = salesforce.connection_details()
        yield SandboxInfo(
            kind=kind,
            base_url=salesforce.base_url,
            leads=leads,
            environment=salesforce.leadq_environment("session"),
            notes=[
                f"the session lasts {SESSION_DAYS} days; password login (from this process's "
                f"session only): {details['username']} / {details['password']}"
                f"{details['security_token']}",
                f"client credentials: consumer key {details['consumer_key']}, "
                f"secret {details['consumer_secret']}, My Domain {details['my_domain']}",
                f"TLS with a throwaway CA: {details['ca_pem']}",
            ],
        )
