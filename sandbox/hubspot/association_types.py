"""HubSpot-defined association types between the objects the emulator holds.

Each direction has its own id: contact→company is 1 (primary) and 279 (unlabeled), company→contact
2 and 280; engagements pair with contacts (contact→call 193, call→contact 194, …, contact→task 203,
task→contact 204). The v3
`associations=` parameter names them (`contact_to_company`, `contact_to_company_unlabeled`), the v4
API gives ids, the category and the label ("Primary" for the primary company, otherwise null).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sandbox.hubspot.store import Association


@dataclass(frozen=True)
class AssociationType:
    type_id: int
    from_type: str
    to_type: str
    name: str
    label: str | None = None

    def v4_json(self) -> dict[str, Any]:
        return {"category": "HUBSPOT_DEFINED", "typeId": self.type_id, "label": self.label}


_TYPES = (
    AssociationType(1, "contacts", "companies", "contact_to_company", "Primary"),
    AssociationType(279, "contacts", "companies", "contact_to_company_unlabeled"),
    AssociationType(2, "companies", "contacts", "company_to_contact", "Primary"),
    AssociationType(280, "companies", "contacts", "company_to_contact_unlabeled"),
    AssociationType(193, "contacts", "calls", "contact_to_call"),
    AssociationType(194, "calls", "contacts", "call_to_contact"),
    AssociationType(197, "contacts", "emails", "contact_to_email"),
    AssociationType(198, "emails", "contacts", "email_to_contact"),
    AssociationType(199, "contacts", "meetings", "contact_to_meeting"),
    AssociationType(200, "meetings", "contacts", "meeting_to_contact"),
    AssociationType(201, "contacts", "notes", "contact_to_note"),
    AssociationType(202, "notes", "contacts", "note_to_contact"),
    # the v4 associations guide's HUBSPOT_DEFINED ids: contact→task 203, task→contact 204
    AssociationType(203, "contacts", "tasks", "contact_to_task"),
    AssociationType(204, "tasks", "contacts", "task_to_contact"),
)
BY_ID: dict[int, AssociationType] = {kind.type_id: kind for kind in _TYPES}
_REVERSE = {1: 2, 2: 1, 279: 280, 280: 279, 193: 194, 194: 193, 197: 198, 198: 197, 199: 200,
            200: 199, 201: 202, 202: 201, 203: 204, 204: 203}
_UNLABELED = {
    (kind.from_type, kind.to_type): kind.type_id for kind in _TYPES if kind.label is None
}


def unlabeled_type(from_type: str, to_type: str) -> int | None:
    return _UNLABELED.get((from_type, to_type))


def both_directions(
    from_type: str, from_id: int, to_type: str, to_id: int, type_ids: tuple[int, ...]
) -> list[Association]:
    """The stored pair of rows for one association (HubSpot keeps both directions)."""
    every = set(type_ids)
    if 1 in every:
        every.add(279)  # a primary company is also an unlabeled one
    forward = tuple(sorted(every))
    backward = tuple(sorted(_REVERSE[type_id] for type_id in forward if type_id in _REVERSE))
    return [
        Association(from_type, from_id, to_type, to_id, forward),
        Association(to_type, to_id, from_type, from_id, backward),
    ]


def v3_results(pairs: list[tuple[int, tuple[int, ...]]]) -> list[dict[str, str]]:
    return [
        {"id": str(to_id), "type": BY_ID[type_id].name}
        for to_id, type_ids in pairs
        for type_id in type_ids
        if type_id in BY_ID
    ]


def v4_result(to_id: int, type_ids: tuple[int, ...]) -> dict[str, Any]:
    return {
        "toObjectId": to_id,
        "associationTypes": [BY_ID[type_id].v4_json() for type_id in type_ids if type_id in BY_ID],
    }
