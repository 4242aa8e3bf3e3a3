"""How the synthetic org's activity types land in Salesforce's standard objects.

- call → Task Type=Call, TaskSubtype=Call, Status=Completed
- email_reply → Task Type=Email, TaskSubtype=Email, Subject "Email: <subject>"
- meeting_booked → Event Type=Meeting, StartDateTime, 30 minutes long
- webinar_registered / webinar_attended → CampaignMember Status Registered / Attended on a
  Campaign of Type Webinar
- form_submission → CampaignMember Status Submitted, Campaign named after the form, Type Web
- demo_request → CampaignMember Status "Demo Requested", Campaign of the demo form, Type Web
- content_download → CampaignMember Status Downloaded, Campaign named after the asset, Type Content
- email_open / email_click → CampaignMember Status Opened / Clicked, Campaign of the e-mail,
  Type Email
- unsubscribe → Lead/Contact HasOptedOutOfEmail = true
- bounce → Lead/Contact EmailBouncedDate and EmailBouncedReason
- page_view, pricing_page_view → dropped: Salesforce core has no object for web visits
- calls and meetings also move the person's LastActivityDate

A person has one CampaignMember per campaign (as in Salesforce): a later activity on the same
campaign raises its Status (Registered → Attended, Opened → Clicked) and keeps the first
response date. Only responses (attended, submitted, requested, downloaded, clicked) set
HasResponded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sandbox.orgs import SynthActivity
from sandbox.salesforce.values import stored_datetime

TASK_ACTIVITIES = {"call": ("Call", "Call"), "email_reply": ("Email", "Email")}
EVENT_ACTIVITIES = frozenset({"meeting_booked"})
MEETING_LENGTH = timedelta(minutes=30)
# type → (Campaign.Type, CampaignMember.Status, responded)
CAMPAIGN_ACTIVITIES: dict[str, tuple[str, str, bool]] = {
    "webinar_registered": ("Webinar", "Registered", False),
    "webinar_attended": ("Webinar", "Attended", True),
    "form_submission": ("Web", "Submitted", True),
    "demo_request": ("Web", "Demo Requested", True),
    "content_download": ("Content", "Downloaded", True),
    "email_open": ("Email", "Opened", False),
    "email_click": ("Email", "Clicked", True),
}
STATUS_RANK = {"Opened": 1, "Registered": 2, "Clicked": 3, "Downloaded": 4, "Submitted": 5,
               "Attended": 6, "Demo Requested": 7}
DEFAULT_CAMPAIGN_NAMES = {
    "form_submission": "Website forms",
    "demo_request": "Demo request",
    "content_download": "Content downloads",
    "email_open": "Marketing e-mail",
    "email_click": "Marketing e-mail",
    "webinar_registered": "Webinars",
    "webinar_attended": "Webinars",
}
DROPPED_ACTIVITIES = frozenset({"page_view", "pricing_page_view"})
BOUNCE_REASON = "550 5.1.1 mailbox unavailable"


@dataclass
class PersonRef:
    """The Salesforce side of one synthetic person."""

    record_id: str
    sobject: str  # Lead | Contact
    owner_id: str


def campaign_name(activity: SynthActivity) -> str:
    return activity.campaign or activity.form or DEFAULT_CAMPAIGN_NAMES[activity.type]


def task_row(record_id: str, person: PersonRef, activity: SynthActivity) -> dict[str, Any]:
    task_type, subtype = TASK_ACTIVITIES[activity.type]
    at = stored_datetime(activity.occurred_at)
    subject = activity.subject or task_type
    if activity.type == "email_reply":
        subject = f"Email: {subject}"
    return {
        "Id": record_id, "IsDeleted": 0, "CreatedDate": at, "LastModifiedDate": at,
        "SystemModstamp": at, "WhoId": person.record_id, "WhatId": None, "Subject": subject,
        "ActivityDate": activity.occurred_at.date().isoformat(), "Status": "Completed",
        "Priority": "Normal", "IsClosed": 1, "CompletedDateTime": at, "IsReminderSet": 0,
        "ReminderDateTime": None, "Type": task_type, "TaskSubtype": subtype, "Description": None,
        "OwnerId": person.owner_id,
    }


def event_row(record_id: str, person: PersonRef, activity: SynthActivity) -> dict[str, Any]:
    at = stored_datetime(activity.occurred_at)
    return {
        "Id": record_id, "IsDeleted": 0, "CreatedDate": at, "LastModifiedDate": at,
        "SystemModstamp": at, "WhoId": person.record_id, "Subject": activity.subject or "Meeting",
        "StartDateTime": at, "EndDateTime": stored_datetime(activity.occurred_at + MEETING_LENGTH),
        "ActivityDate": activity.occurred_at.date().isoformat(), "Type": "Meeting",
        "OwnerId": person.owner_id,
    }


def campaign_row(record_id: str, name: str, campaign_type: str, first_seen: datetime,
                 owner_id: str) -> dict[str, Any]:
    at = stored_datetime(first_seen)
    return {
        "Id": record_id, "IsDeleted": 0, "CreatedDate": at, "LastModifiedDate": at,
        "SystemModstamp": at, "Name": name, "Type": campaign_type, "Status": "In Progress",
        "IsActive": 1, "StartDate": first_seen.date().isoformat(), "OwnerId": owner_id,
    }


def member_row(record_id: str, campaign_id: str, person: PersonRef, activity: SynthActivity) -> (
    dict[str, Any]
):
    _, status, responded = CAMPAIGN_ACTIVITIES[activity.type]
    at = stored_datetime(activity.occurred_at)
    return {
        "Id": record_id, "IsDeleted": 0, "CreatedDate": at, "LastModifiedDate": at,
        "SystemModstamp": at, "CampaignId": campaign_id,
        "LeadId": person.record_id if person.sobject == "Lead" else None,
        "ContactId": person.record_id if person.sobject == "Contact" else None,
        "Status": status, "HasResponded": int(responded),
        "FirstRespondedDate": activity.occurred_at.date().isoformat() if responded else None,
    }


def merged_member(existing: dict[str, Any], activity: SynthActivity) -> dict[str, Any]:
    """A member row after one more activity on the same campaign."""
    _, status, responded = CAMPAIGN_ACTIVITIES[activity.type]
    at = stored_datetime(activity.occurred_at)
    merged = dict(existing)
    if STATUS_RANK.get(status, 0) > STATUS_RANK.get(existing["Status"] or "", 0):
        merged["Status"] = status
    if responded:
        merged["HasResponded"] = 1
        if not existing.get("FirstRespondedDate"):
            merged["FirstRespondedDate"] = activity.occurred_at.date().isoformat()
    merged["LastModifiedDate"] = max(existing["LastModifiedDate"], at)
    merged["SystemModstamp"] = merged["LastModifiedDate"]
    return merged


def person_field_changes(activity: SynthActivity) -> dict[str, Any]:
    """Fields of the Lead or Contact itself that an activity sets."""
    if activity.type == "unsubscribe":
        return {"HasOptedOutOfEmail": 1}
    if activity.type == "bounce":
        return {
            "EmailBouncedDate": stored_datetime(activity.occurred_at),
            "EmailBouncedReason": BOUNCE_REASON,
        }
    if activity.type in TASK_ACTIVITIES or activity.type in EVENT_ACTIVITIES:
        return {"LastActivityDate": activity.occurred_at.date().isoformat()}
    return {}


def leaves_a_trace(activity: SynthActivity) -> bool:
    return activity.type not in DROPPED_ACTIVITIES and (
        activity.type in TASK_ACTIVITIES
        or activity.type in EVENT_ACTIVITIES
        or activity.type in CAMPAIGN_ACTIVITIES
        or activity.type in ("unsubscribe", "bounce")
    )
