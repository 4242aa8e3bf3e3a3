"""Small JSON objects packed small: zlib with a preset dictionary of what leadq's state repeats.

An audit row's fields and a lead's last written values are a few hundred bytes of JSON each, too
little for zlib to find much to repeat within one: its savings come from text seen before. The
preset dictionary (`DICTIONARY`) gives it that text up front — the field names leadq writes to
both CRMs, the JSON around them, the words of the audit's reasons — so a row packs to about half
of what plain zlib makes of it (a full sync of 200,000 leads keeps one audit row and one written
row per lead).

A packed object names its dictionary in its zlib header (the dictionary's Adler-32), so reading
tells the two apart: plain zlib (audit rows written before the dictionary) unpacks as before. The
dictionary never changes once released; a better one is added beside it under its own id.
"""

from __future__ import annotations

import json
import zlib
from typing import Any

COMPRESSION_LEVEL = 9

_HUBSPOT_FIELDS = [
    "leadq_score",
    "leadq_fit",
    "leadq_engagement",
    "leadq_grade",
    "leadq_label",
    "leadq_priority",
    "leadq_reasons",
    "leadq_model_version",
    "leadq_scored_at",
    "lifecyclestage",
    "hubspot_owner_id",
    "hs_lead_status",
]
_SALESFORCE_FIELDS = [
    "leadq_Score__c",
    "leadq_Fit__c",
    "leadq_Engagement__c",
    "leadq_Grade__c",
    "leadq_Label__c",
    "leadq_Priority__c",
    "leadq_Reasons__c",
    "leadq_Model_Version__c",
    "leadq_Scored_At__c",
    "Status",
    "OwnerId",
]


def _dictionary() -> bytes:
    """Text a row is likely to repeat; zlib reaches the end of a dictionary most cheaply, so
    the commonest text goes last."""
    words = (
        "subscriber lead marketingqualifiedlead salesqualifiedlead opportunity customer "
        "Open - Not Contacted Working - Contacted Nurture Unqualified Disqualified Recycled "
        "NEW OPEN IN_PROGRESS ATTEMPTED_TO_CONTACT UNQUALIFIED BAD_TIMING "
        "round robin least loaded fixed fallback owner account owner "
        "Company size Target industry Core market Pricing page Inquiry or download "
        "Attended a webinar Demo request Senior title Personal e-mail domain Competitor "
        "(last 30 days) (last 90 days) stage lifecycle owner status model_version scored "
    )
    salesforce = "".join(
        f'"{name}":{{"before":null,"after":"' for name in _SALESFORCE_FIELDS
    ) + "".join(f'"{name}": ' for name in _SALESFORCE_FIELDS)
    hubspot = "".join(f'"{name}":{{"before":null,"after":"' for name in _HUBSPOT_FIELDS) + "".join(
        f'"{name}": ' for name in _HUBSPOT_FIELDS
    )
    audit = (
        '"why":"score (empty) \\u2192 ","why":"fit (empty) \\u2192 ",'
        '"why":"engagement (empty) \\u2192 ","why":"grade (empty) \\u2192 ",'
        '"why":"label (empty) \\u2192 ","why":"priority (empty) \\u2192 ",'
        '"why":"reasons (empty) \\u2192 ","why":"model_version (empty) \\u2192 ",'
        '{"after":"2026-11-02T09:00:00+00:00","why":"scored"},'
        " \\u2192 (+10); (+15); (+20); (+5); (-10); (-20); \\u20135,000 (+"
        '},"before":","after":","why":"'
    )
    return (words + salesforce + hubspot + audit).encode()


DICTIONARY = _dictionary()
DICTIONARY_ID = zlib.adler32(DICTIONARY)
_DICTIONARIES = {DICTIONARY_ID: DICTIONARY}
_PRESET_DICTIONARY_FLAG = 0x20  # FDICT, in the second byte of a zlib header


def pack_json(value: Any) -> bytes:
    """`value` as compact JSON, compressed with the preset dictionary."""
    text = json.dumps(value, separators=(",", ":")).encode()
    packer = zlib.compressobj(COMPRESSION_LEVEL, zdict=DICTIONARY)
    return packer.compress(text) + packer.flush()


def unpack_json(packed: bytes) -> Any:
    """What `pack_json` packed, or plain zlib-compressed JSON (rows from before the dictionary)."""
    if len(packed) > 6 and packed[1] & _PRESET_DICTIONARY_FLAG:
        dictionary = _DICTIONARIES[int.from_bytes(packed[2:6], "big")]
        unpacker = zlib.decompressobj(zdict=dictionary)
        return json.loads(unpacker.decompress(packed) + unpacker.flush())
    return json.loads(zlib.decompress(packed))
