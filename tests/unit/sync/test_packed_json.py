"""Audit fields and written values packed with a preset dictionary (sync/packed_json.py)."""

from __future__ import annotations

import json
import zlib

from sync.packed_json import pack_json, unpack_json

ROW = {
    "leadq_score": {"before": 12, "after": 34, "why": "score 12 → 34"},
    "leadq_grade": {"after": "B", "why": "grade (empty) → B"},
    "leadq_reasons": {
        "after": "Company size 50–5,000 (+20); Target industry (+15); Core market (+10)",
        "why": "reasons (empty) → Company size 50–5,000 (+20); Target industry (+15)",
    },
    "leadq_scored_at": {"after": "2026-11-02T09:00:00+00:00", "why": "scored"},
}


def test_a_row_comes_back_as_it_was_packed_in_well_under_what_plain_zlib_takes() -> None:
    packed = pack_json(ROW)
    plain = zlib.compress(json.dumps(ROW, separators=(",", ":")).encode(), 9)

    assert unpack_json(packed) == ROW
    assert len(packed) < 0.75 * len(plain)


def test_a_row_packed_before_the_dictionary_still_reads() -> None:
    older = zlib.compress(json.dumps(ROW, separators=(",", ":")).encode(), 6)

    assert unpack_json(older) == ROW
