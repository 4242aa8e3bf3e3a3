"""One HubSpot portal's behaviour behind the HTTP layer: its store, writer, settings and the
activity simulator that makes existing contacts "come back" (new events and engagements, fresh
summary properties and last-modified dates, and the webhooks that follow)."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sandbox.hubspot.activity import ENGAGEMENT_OBJECT, SUMMARY_PROPERTIES, Activity, summarize
from sandbox.hubspot.schema import datetime_to_ms
from sandbox.hubspot.search import MAX_RESULTS
from sandbox.hubspot.seed import (
    DEFAULT_PORTAL_ID,
    OWNER_ID_BASE,
    USER_ID_BASE,
    RenderedActivities,
    render_activities,
    to_activity,
)
from sandbox.hubspot.store import ActivityRow, HubSpotStore, StoredRecord
from sandbox.hubspot.writes import ChangeSource, RecordWriter
from sandbox.orgs import SynthActivity, SynthOrg


def wall_clock_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class PortalSettings:
    portal_id: int = DEFAULT_PORTAL_ID
    # False makes the portal "non-Enterprise": /events/v3/events answers 403.
    events_enabled: bool = True
    # Records written less than this long ago are not yet visible to search.
    search_index_delay_seconds: float = 0.0
    # One search query's results can be paged only this far (HubSpot: 10,000).
    search_max_results: int = MAX_RESULTS


class Portal:
    def __init__(
        self,
        store: HubSpotStore,
        settings: PortalSettings | None = None,
        *,
        org: SynthOrg | None = None,
        clock_ms: Callable[[], int] = wall_clock_ms,
    ) -> None:
        self.store = store
        self.settings = settings or PortalSettings()
        self.org = org
        self.clock_ms = clock_ms
        self.writer = RecordWriter(store, clock_ms)

    def search_visible_before_ms(self) -> int | None:
        delay = self.settings.search_index_delay_seconds
        return self.clock_ms() - int(delay * 1000) if delay > 0 else None

    def simulate_activity(self, count: int, now: datetime, seed: int) -> list[SynthActivity]:
        """New activity for `count` existing people of the org, applied as HubSpot would."""
        if self.org is None:
            raise RuntimeError("this portal was not seeded from a synthetic org")
        simulated = self.org.simulate_activity(count, now, seed)
        by_person: dict[str, list[Activity]] = defaultdict(list)
        for activity in simulated:
            by_person[activity.person_key].append(to_activity(activity))
        contacts = self.store.records_by_source_key(list(by_person))
        rendered = RenderedActivities()
        for key, activities in by_person.items():
            contact = contacts.get(key)
            if contact is not None:
                owner = contact.properties.get("hubspot_owner_id")
                render_activities(self.store, contact.id, owner, activities,
                                  self.settings.portal_id, rendered)
        with self.store.transaction():
            rendered.save(self.store, written_ms=self.clock_ms())
        self._refresh_summaries(contacts, by_person, datetime_to_ms(now))
        return simulated

    def _refresh_summaries(
        self,
        contacts: dict[str, StoredRecord],
        new_activity: dict[str, list[Activity]],
        now_ms: int,
    ) -> None:
        by_source: dict[ChangeSource, list[tuple[StoredRecord, dict[str, str]]]] = defaultdict(list)
        for key, contact in contacts.items():
            summary = summarize(_activity(row) for row in self.store.activities_of(contact.id))
            changed = {
                name: summary.get(name, "")
                for name in SUMMARY_PROPERTIES
                if summary.get(name, "") != contact.properties.get(name, "")
            }
            by_source[_source_of(contact, new_activity[key])].append((contact, changed))
        for source, updates in by_source.items():
            self.writer.update("contacts", updates, source, now_ms=now_ms)


def _activity(row: ActivityRow) -> Activity:
    return Activity(row.kind, row.occurred_ms, row.url, row.form, row.campaign, row.subject)


def _source_of(contact: StoredRecord, activities: list[Activity]) -> ChangeSource:
    """A rep logging a call or meeting changes the contact in the CRM UI; the rest is automatic."""
    owner = contact.properties.get("hubspot_owner_id")
    if owner and any(activity.kind in ENGAGEMENT_OBJECT for activity in activities):
        return ChangeSource("CRM_UI", f"userId:{USER_ID_BASE + int(owner) - OWNER_ID_BASE}")
    return ChangeSource("AUTOMATION")
