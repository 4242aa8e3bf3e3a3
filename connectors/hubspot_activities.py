"""A HubSpot contact's activities, in batches: engagement objects, behavioural events, and — where
the portal has no events API — the contact's summary properties.

**Engagements** (calls, emails, meetings, notes): one v4 association batch read per engagement type
and 1,000 contacts, then batch reads of 100 engagement objects (`hs_timestamp`, subject, direction,
outcome). Calls are `call`, incoming e-mails `email_reply` (outgoing ones `email_sent`), meetings
`meeting_booked` (`meeting_canceled`, `meeting_no_show` by outcome), notes `note`.

**Behavioural events** (`GET /events/v3/events`, Enterprise portals only): the API lists events
across all contacts by `objectType` and `occurredAfter` (`objectId` is optional), so leadq never
asks per contact. It reads the portal's events since `since` once — `ceil(events / page size)`
requests, a page of up to `events_page_size` — keeps them indexed by contact for every later page
of leads in the same run, and tops the window up with only the newer events when it is older than
`refresh_seconds`. The window is spooled to a temporary file (connectors/hubspot_event_window.py),
so memory does not grow with the events in it. `e_visited_page` is `page_view`
(`pricing_page_view` under /pricing), `e_submitted_form` is
`demo_request`, `content_download` or `form_submission` by the form's title, e-mail events are
`email_open`, `email_click`, `unsubscribe`, `bounce`, and custom events `pe{portal}_{name}` are
`name`; any other event keeps HubSpot's own event type.

**Summary properties** (every portal; read with the contact at no extra request). When the events
API answers 403 (not Enterprise, or no scope), web and e-mail activity comes from these properties
instead. With the events API they fill in only the marketing e-mail types (opens, clicks, bounces,
unsubscribes) that the API does not deliver — HubSpot documents that it leaves them out: a type
seen in the window is delivered; one not seen in a window since some moment is looked up once per
connector (one request of one event).

What the summary fallback loses (README)
----------------------------------------
Without the events API (below Enterprise), leadq reads a contact's web and marketing e-mail
activity from HubSpot's summary properties. Each kind of activity collapses to **at least one,
dated by the latest**: a contact with 40 page views and 3 e-mail opens counts as one page view on
the last visit (`hs_analytics_last_visit_timestamp`) and one open on the last open
(`hs_email_last_open_date`); e-mail clicks are dated by `hs_email_last_click_date`; form
submissions become the most recent and the first conversion (`recent_conversion_date` /
`first_conversion_date`, typed by the form's name), so the ones in between are lost. Pricing page
views cannot be told from other page views, webinar attendance and other custom events are not
seen at all, and URLs, campaigns and e-mail subjects are lost. Bounces and unsubscribes carry no
date of their own and are dated by the contact's creation (a stable lower bound: the last change
would move with every write, leadq's own included), so rules should not decay them. Caps
and `once` rules behave as designed, but count-based rules ("three visits") and decay of repeated
activity see less than happened. Calls, meetings and sales e-mail replies are engagement objects
and keep full detail on every tier.
"""

from __future__ import annotations

import logging
import re
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from urllib.parse import urlparse

from connectors.base import RecordedActivities
from connectors.hubspot_api import HubSpotApi
from connectors.hubspot_event_window import EventWindow
from connectors.hubspot_records import chunked, epoch_ms
from connectors.records import Activity, Lead, parse_timestamp
from connectors.retry import PermissionDeniedError

logger = logging.getLogger(__name__)

ActivitySource = Literal["auto", "events", "summary"]
ENGAGEMENT_TYPES: tuple[str, ...] = ("calls", "emails", "meetings", "notes")
ENGAGEMENT_PROPERTIES: dict[str, tuple[str, ...]] = {
    "calls": ("hs_timestamp", "hs_call_title", "hs_call_direction", "hs_call_status"),
    "emails": ("hs_timestamp", "hs_email_subject", "hs_email_direction"),
    "meetings": ("hs_timestamp", "hs_meeting_title", "hs_meeting_outcome"),
    "notes": ("hs_timestamp",),
}
SUMMARY_PROPERTIES: tuple[str, ...] = (
    "hs_analytics_num_page_views",
    "hs_analytics_last_visit_timestamp",
    "num_conversion_events",
    "recent_conversion_date",
    "recent_conversion_event_name",
    "first_conversion_date",
    "first_conversion_event_name",
    "hs_email_open",
    "hs_email_last_open_date",
    "hs_email_click",
    "hs_email_last_click_date",
    "hs_email_bounce",
    "hs_email_optout",
)
ASSOCIATION_BATCH = 1_000
REMEMBERED_CONTACTS = 10_000  # engagement links kept from list pages, waiting for `read`
READ_BATCH = 100
PRICING_PATH = "/pricing"
_EMAIL_EVENTS = {
    "email_open": "e_opened_email",
    "email_click": "e_clicked_email",
    "unsubscribe": "e_unsubscribed_email",
    "bounce": "e_bounced_email",
}
_STANDARD_EVENTS = {event_type: kind for kind, event_type in _EMAIL_EVENTS.items()}
_CUSTOM_EVENT = re.compile(r"^pe\d+_(.+)$")
_DEMO_FORM = re.compile(r"\bdemo\b", re.IGNORECASE)
_DOWNLOAD_FORM = re.compile(
    r"\b(e-?book|white ?paper|checklist|report|template|guide|download|worksheet)\b",
    re.IGNORECASE,
)
_WEBINAR_FORM = re.compile(r"\bwebinar\b", re.IGNORECASE)
_SUMMARY_TYPES = frozenset(
    {"page_view", "form_submission", "demo_request", "content_download", "webinar_registered",
     "email_open", "email_click", "bounce", "unsubscribe"}
)
EVENT_OVERLAP = timedelta(minutes=5)  # late-arriving events when a window is topped up

def form_activity_type(form: str | None) -> str:
    text = form or ""
    if _DEMO_FORM.search(text):
        return "demo_request"
    if _WEBINAR_FORM.search(text):
        return "webinar_registered"
    if _DOWNLOAD_FORM.search(text):
        return "content_download"
    return "form_submission"


def event_activity_type(event_type: str, properties: Mapping[str, Any]) -> str:
    if event_type == "e_visited_page":
        path = urlparse(str(properties.get("hs_url") or "")).path
        return "pricing_page_view" if path.startswith(PRICING_PATH) else "page_view"
    if event_type == "e_submitted_form":
        return form_activity_type(properties.get("hs_form_title"))
    if event_type in _STANDARD_EVENTS:
        return _STANDARD_EVENTS[event_type]
    custom = _CUSTOM_EVENT.match(event_type)
    return custom.group(1) if custom else event_type


class ActivityReader:
    def __init__(
        self,
        api: HubSpotApi,
        source: ActivitySource = "auto",
        engagement_types: Sequence[str] = ENGAGEMENT_TYPES,
        events_page_size: int = 1_000,
        refresh_seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.api = api
        self.source = source
        self.engagement_types = tuple(engagement_types)
        self.events_page_size = events_page_size
        self.refresh_seconds = refresh_seconds
        self._clock = clock
        self._events_available = source != "summary"
        self._window: EventWindow | None = None
        self._links: dict[str, dict[str, list[str]]] = {}
        self.delivered: dict[str, bool] = {}  # e-mail activity type → the events API has it

    def read(self, leads: Sequence[Lead], since: datetime | None) -> list[Activity]:
        ids = [lead.id for lead in leads]
        activities = self._engagements(ids)
        summary_types = set(_SUMMARY_TYPES)
        window = self._events(since)
        if window is not None:
            activities.extend(window.activities(ids))
            summary_types = self._undelivered_email_types(window)
        for lead in leads:
            activities.extend(a for a in summary_activities(lead) if a.type in summary_types)
        kept = [a for a in activities if since is None or a.occurred_at > since]
        return sorted(kept, key=lambda activity: (activity.occurred_at, activity.lead_id))

    def read_recorded(
        self, leads: Sequence[Lead], recorded_since: datetime | None, horizon: datetime
    ) -> RecordedActivities:
        """Engagements of these contacts; events since `recorded_since` (then every contact's
        in that window: a ledger keeps them) or since `horizon` (these contacts'); summary
        activities as derived ones. Everything after `horizon`."""
        ids = [lead.id for lead in leads]
        recorded = self._engagements(ids)
        summary_types = set(_SUMMARY_TYPES)
        window = self._events(recorded_since or horizon)
        if window is not None:
            contacts = ids if recorded_since is None else window.contacts()
            recorded.extend(window.activities(contacts))
            summary_types = self._undelivered_email_types(window)
        derived = [a for lead in leads for a in summary_activities(lead) if a.type in summary_types]
        return RecordedActivities(
            [a for a in recorded if a.occurred_at > horizon],
            [a for a in derived if a.occurred_at > horizon],
        )

    # ---- engagements ----------------------------------------------------------------------------

    def remember_links(self, contact_id: str, linked: Mapping[str, Sequence[str]]) -> None:
        """Engagement ids a contacts list page already carried (`associations=`), so that the
        next `read` of this contact needs no association request. Only recent pages are kept."""
        self._links[contact_id] = {kind: list(ids) for kind, ids in linked.items()}
        while len(self._links) > REMEMBERED_CONTACTS:
            del self._links[next(iter(self._links))]

    def _engagements(self, contact_ids: Sequence[str]) -> list[Activity]:
        contacts_of: dict[str, dict[str, list[str]]] = {
            object_type: defaultdict(list) for object_type in self.engagement_types
        }
        unknown = []
        for contact_id in contact_ids:
            linked = self._links.pop(contact_id, None)
            if linked is None:
                unknown.append(contact_id)
                continue
            for object_type in self.engagement_types:
                for engagement_id in linked.get(object_type, ()):
                    contacts_of[object_type][engagement_id].append(contact_id)
        for chunk in chunked(unknown, ASSOCIATION_BATCH):
            for object_type in self.engagement_types:
                for engagement_id, contacts in self._associated(chunk, object_type).items():
                    contacts_of[object_type][engagement_id].extend(contacts)
        activities: list[Activity] = []
        for object_type, contacts_by_engagement in contacts_of.items():
            for record in self._read_objects(object_type, list(contacts_by_engagement)):
                for contact_id in contacts_by_engagement.get(str(record.get("id")), ()):
                    activity = _engagement_activity(object_type, record, contact_id)
                    if activity is not None:
                        activities.append(activity)
        return activities

    def _associated(self, contact_ids: list[str], object_type: str) -> dict[str, list[str]]:
        """Engagement id → the contacts (of these) it is associated with."""
        answer = self.api.call(
            "associations", f"reading contacts' {object_type}",
            "crm.associations.v4.batch_api.get_page", "contacts", object_type,
            {"inputs": [{"id": contact_id} for contact_id in contact_ids]},
        )
        contacts_of: dict[str, list[str]] = defaultdict(list)
        for result in answer.get("results") or []:
            contact_id = str((result.get("from") or {}).get("id"))
            for link in result.get("to") or []:
                contacts_of[str(link.get("toObjectId"))].append(contact_id)
        return contacts_of

    def _read_objects(self, object_type: str, ids: list[str]) -> Iterable[Mapping[str, Any]]:
        for chunk in chunked(ids, READ_BATCH):
            answer = self.api.call(
                "batch_read", f"reading {object_type}", "crm.objects.batch_api.read", object_type,
                {"inputs": [{"id": object_id} for object_id in chunk],
                 "properties": list(ENGAGEMENT_PROPERTIES.get(object_type, ("hs_timestamp",)))},
            )
            yield from answer.get("results") or []

    # ---- events ---------------------------------------------------------------------------------

    def _events(self, since: datetime | None) -> EventWindow | None:
        if not self._events_available:
            return None
        since_ms = epoch_ms(since) if since is not None else None
        window = self._window
        try:
            if window is None or not window.covers(since_ms):
                if window is not None:
                    window.close()
                window = EventWindow(since_ms, _interned_activity_type)
                self._window = window
                self._read_events(window, since)
            elif self._clock() - window.loaded_at >= self.refresh_seconds:
                newest = window.newest - EVENT_OVERLAP if window.newest else since
                self._read_events(window, newest)
        except PermissionDeniedError as refused:
            if self.source == "events":
                raise
            logger.warning("HubSpot's events API is not available (%s): activities come from "
                           "engagements and contact summary properties", refused)
            self._events_available = False
            return None
        return window

    def _undelivered_email_types(self, window: EventWindow) -> set[str]:
        """The marketing e-mail activity types this portal's events API does not deliver (HubSpot
        documents that it leaves them out), to be read from the summary properties instead."""
        undelivered = set()
        for kind, event_type in _EMAIL_EVENTS.items():
            if kind in window.types_seen:
                self.delivered[kind] = True
            elif kind not in self.delivered:
                # a window since a recent moment may hold none: ask once whether any exists
                self.delivered[kind] = window.since_ms is not None and self._any_event(event_type)
            if not self.delivered[kind]:
                undelivered.add(kind)
        return undelivered

    def _any_event(self, event_type: str) -> bool:
        answer = self.api.call(
            "events", f"looking for {event_type} events", "events.events_api.get_page",
            object_type="contact", event_type=event_type, limit=1,
        )
        return bool(answer.get("results"))

    def _read_events(self, window: EventWindow, after: datetime | None) -> None:
        cursor = None
        occurred_after = _iso(after) if after is not None else None
        while True:
            answer = self.api.call(
                "events", "reading behavioural events", "events.events_api.get_page",
                object_type="contact", occurred_after=occurred_after, sort=["ASCENDING"],
                limit=self.events_page_size, after=cursor,
            )
            window.add_all(answer.get("results") or [])
            cursor = ((answer.get("paging") or {}).get("next") or {}).get("after")
            if not cursor:
                window.loaded_at = self._clock()
                return


def _iso(moment: datetime) -> str:
    """HubSpot's form: UTC to the millisecond, `Z` for the zone."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _interned_activity_type(event_type: str, properties: Mapping[str, Any]) -> str:
    return sys.intern(event_activity_type(event_type, properties))


def _engagement_activity(object_type: str, record: Mapping[str, Any],
                         contact_id: str) -> Activity | None:
    properties = record.get("properties") or {}
    occurred = parse_timestamp(properties.get("hs_timestamp") or record.get("createdAt"))
    if occurred is None:
        return None
    kind, subject = _engagement_kind(object_type, properties)
    return Activity(lead_id=contact_id, type=kind, occurred_at=occurred, subject=subject)


def _engagement_kind(object_type: str, properties: Mapping[str, Any]) -> tuple[str, Any]:
    if object_type == "calls":
        return "call", properties.get("hs_call_title")
    if object_type == "emails":
        incoming = properties.get("hs_email_direction") == "INCOMING_EMAIL"
        return ("email_reply" if incoming else "email_sent"), properties.get("hs_email_subject")
    if object_type == "meetings":
        outcome = str(properties.get("hs_meeting_outcome") or "").upper()
        kind = {"CANCELED": "meeting_canceled", "NO_SHOW": "meeting_no_show"}.get(
            outcome, "meeting_booked")
        return kind, properties.get("hs_meeting_title")
    return object_type.rstrip("s"), None


def summary_activities(lead: Lead) -> list[Activity]:
    """At least one activity of each kind the summary properties show, dated by the latest."""
    fields = lead.fields
    found: list[Activity] = []

    def add(kind: str, when: Any, **details: Any) -> None:
        if isinstance(when, datetime):
            found.append(Activity(lead_id=lead.id, type=kind, occurred_at=when, **details))

    if _positive(fields.get("hs_analytics_num_page_views")):
        add("page_view", fields.get("hs_analytics_last_visit_timestamp"))
    if _positive(fields.get("num_conversion_events")):
        recent, first = fields.get("recent_conversion_date"), fields.get("first_conversion_date")
        recent_form = fields.get("recent_conversion_event_name")
        add(form_activity_type(recent_form), recent, form=recent_form)
        if first != recent:
            first_form = fields.get("first_conversion_event_name")
            add(form_activity_type(first_form), first, form=first_form)
    if _positive(fields.get("hs_email_open")):
        add("email_open", fields.get("hs_email_last_open_date"))
    if _positive(fields.get("hs_email_click")):
        add("email_click", fields.get("hs_email_last_click_date"))
    # Bounces and opt-outs carry no date. The contact's creation dates them: the last change would
    # move with every write (leadq's own included) and make scores drift from run to run.
    if _positive(fields.get("hs_email_bounce")):
        add("bounce", lead.created_at)
    if fields.get("hs_email_optout") is True:
        add("unsubscribe", lead.created_at)
    return found


def _positive(value: Any) -> bool:
    return isinstance(value, int | float) and value > 0
