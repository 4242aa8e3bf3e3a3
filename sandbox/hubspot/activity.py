"""How a canonical activity (sandbox.orgs) shows up in HubSpot, and the contact summary it feeds.

Sales engagements become engagement objects associated with the contact:

    call            -> calls     (OUTBOUND, COMPLETED, hs_call_title = subject)
    email_reply     -> emails    (INCOMING_EMAIL, hs_email_subject = "Re: " + subject)
    meeting_booked  -> meetings  (SCHEDULED, 30 minutes from hs_timestamp)

Everything else becomes a behavioural event (`GET /events/v3/events`):

    page_view, pricing_page_view        -> e_visited_page        (hs_url; pricing pages are
                                                                   the URLs under /pricing)
    form_submission, content_download,  -> e_submitted_form      (hs_form_title = the form's
    demo_request                                                  name, hs_url = its page)
    email_open                          -> e_opened_email        (hs_email_campaign_name,
    email_click                         -> e_clicked_email        hs_email_subject, hs_url)
    unsubscribe                         -> e_unsubscribed_email
    bounce                              -> e_bounced_email
    webinar_registered                  -> pe{portalId}_webinar_registered  (custom events,
    webinar_attended                    -> pe{portalId}_webinar_attended     hs_campaign)

`summarize` folds a contact's activities into HubSpot's summary properties (page views, sessions,
conversions, marketing e-mail counters and dates, last contacted, last engagement), so a portal
without the events API (non-Enterprise) still tells a connector what the person did.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sandbox.hubspot.schema import format_ms

ENGAGEMENT_OBJECT = {"call": "calls", "email_reply": "emails", "meeting_booked": "meetings"}

_STANDARD_EVENTS = {
    "page_view": "e_visited_page",
    "pricing_page_view": "e_visited_page",
    "form_submission": "e_submitted_form",
    "content_download": "e_submitted_form",
    "demo_request": "e_submitted_form",
    "email_open": "e_opened_email",
    "email_click": "e_clicked_email",
    "unsubscribe": "e_unsubscribed_email",
    "bounce": "e_bounced_email",
}
_CUSTOM_EVENTS = ("webinar_registered", "webinar_attended")

_PAGE_VIEWS = frozenset({"page_view", "pricing_page_view"})
_CONVERSIONS = frozenset({"form_submission", "content_download", "demo_request",
                          "webinar_registered"})
_CONTACTED = frozenset({"call", "meeting_booked", "email_reply"})
_ENGAGED = frozenset({"email_open", "email_click", "email_reply", "meeting_booked",
                      "form_submission", "content_download", "demo_request",
                      "webinar_registered", "webinar_attended"})
_DAY_MS = 86_400_000


@dataclass(frozen=True)
class Activity:
    """One canonical activity of a contact, as the store keeps it."""

    kind: str
    occurred_ms: int
    url: str | None = None
    form: str | None = None
    campaign: str | None = None
    subject: str | None = None


def event_type_for(kind: str, portal_id: int) -> str | None:
    """The behavioural event type an activity is recorded as, or None for engagements."""
    if kind in _STANDARD_EVENTS:
        return _STANDARD_EVENTS[kind]
    if kind in _CUSTOM_EVENTS:
        return f"pe{portal_id}_{kind}"
    return None


def event_types(portal_id: int) -> list[str]:
    return sorted({*_STANDARD_EVENTS.values(), *(f"pe{portal_id}_{kind}" for kind in
                                                  _CUSTOM_EVENTS)})


def event_properties(activity: Activity) -> dict[str, str]:
    candidates = {
        "hs_url": activity.url,
        "hs_form_title": activity.form,
        "hs_email_campaign_name": activity.campaign if activity.kind.startswith(
            ("email", "unsub", "bounce")) else None,
        "hs_campaign": activity.campaign if activity.kind.startswith("webinar") else None,
        "hs_email_subject": activity.subject,
    }
    return {name: value for name, value in candidates.items() if value is not None}


def engagement_properties(activity: Activity, owner_id: str | None) -> dict[str, str]:
    stamp = format_ms(activity.occurred_ms)
    subject = activity.subject or ""
    properties: dict[str, str] = {"hs_timestamp": stamp}
    if owner_id:
        properties["hubspot_owner_id"] = owner_id
    if activity.kind == "call":
        properties.update(hs_call_title=subject or "Call", hs_call_direction="OUTBOUND",
                          hs_call_status="COMPLETED", hs_call_duration="600000")
    elif activity.kind == "email_reply":
        properties.update(hs_email_subject=f"Re: {subject}".strip(),
                          hs_email_direction="INCOMING_EMAIL", hs_email_status="SENT")
    elif activity.kind == "meeting_booked":
        properties.update(hs_meeting_title=subject or "Meeting", hs_meeting_start_time=stamp,
                          hs_meeting_end_time=format_ms(activity.occurred_ms + 1_800_000),
                          hs_meeting_outcome="SCHEDULED")
    return properties


def summarize(activities: Iterable[Activity]) -> dict[str, str]:
    """A contact's HubSpot summary properties from all its activities (any order)."""
    ordered = sorted(activities, key=lambda activity: activity.occurred_ms)
    views = [a.occurred_ms for a in ordered if a.kind in _PAGE_VIEWS]
    conversions = [a for a in ordered if a.kind in _CONVERSIONS]
    opens = [a.occurred_ms for a in ordered if a.kind == "email_open"]
    clicks = [a.occurred_ms for a in ordered if a.kind == "email_click"]
    replies = [a.occurred_ms for a in ordered if a.kind == "email_reply"]
    contacted = [a.occurred_ms for a in ordered if a.kind in _CONTACTED]
    engaged = [a.occurred_ms for a in ordered if a.kind in _ENGAGED]
    summary: dict[str, Any] = {
        "hs_analytics_num_page_views": len(views),
        "hs_analytics_num_visits": len({ms // _DAY_MS for ms in views}),
        "hs_analytics_first_visit_timestamp": _first(views),
        "hs_analytics_last_visit_timestamp": _last(views),
        "num_conversion_events": len(conversions),
        "num_unique_conversion_events": len({_conversion_name(a) for a in conversions}),
        "first_conversion_date": _first([a.occurred_ms for a in conversions]),
        "recent_conversion_date": _last([a.occurred_ms for a in conversions]),
        "first_conversion_event_name": _conversion_name(conversions[0]) if conversions else None,
        "recent_conversion_event_name": _conversion_name(conversions[-1]) if conversions else None,
        "hs_email_open": len(opens),
        "hs_email_click": len(clicks),
        "hs_email_replied": len(replies),
        "hs_email_bounce": sum(1 for a in ordered if a.kind == "bounce"),
        "hs_email_first_open_date": _first(opens),
        "hs_email_last_open_date": _last(opens),
        "hs_email_last_click_date": _last(clicks),
        "hs_email_optout": "true" if any(a.kind == "unsubscribe" for a in ordered) else None,
        "hs_sales_email_last_replied": _last(replies),
        "notes_last_contacted": _last(contacted),
        "notes_last_updated": _last(contacted),
        "num_contacted_notes": len(contacted),
        "hs_last_sales_activity_timestamp": _last(engaged),
    }
    return {name: _as_string(name, value) for name, value in summary.items() if value is not None}


_DATE_PROPERTIES = frozenset({
    "hs_analytics_first_visit_timestamp", "hs_analytics_last_visit_timestamp",
    "first_conversion_date", "recent_conversion_date", "hs_email_first_open_date",
    "hs_email_last_open_date", "hs_email_last_click_date", "hs_sales_email_last_replied",
    "notes_last_contacted", "notes_last_updated", "hs_last_sales_activity_timestamp",
})


def _as_string(name: str, value: Any) -> str:
    if name in _DATE_PROPERTIES:
        return format_ms(value)
    return str(value)


def _first(moments: list[int]) -> int | None:
    return moments[0] if moments else None


def _last(moments: list[int]) -> int | None:
    return moments[-1] if moments else None


def _conversion_name(activity: Activity) -> str:
    if activity.form:
        return activity.form
    if activity.kind == "webinar_registered":
        return f"Webinar registration: {activity.campaign or 'webinar'}"
    return activity.kind.replace("_", " ").capitalize()


SUMMARY_PROPERTIES = frozenset(summarize([]).keys()) | _DATE_PROPERTIES | {
    "first_conversion_event_name", "recent_conversion_event_name", "hs_email_optout"}
