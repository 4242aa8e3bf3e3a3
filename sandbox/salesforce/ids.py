"""Salesforce record ids: a 3-character key prefix, a 12-character base-62 body and the 3-character
case-safe suffix that turns the 15-character id into the 18-character one the API returns."""

from __future__ import annotations

import itertools
import threading

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
SUFFIX_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
POD = "5g0"  # instance and reserved characters, fixed for one emulated org


def case_safe_suffix(id15: str) -> str:
    """The checksum Salesforce appends: one character per 5-character chunk, encoding which of
    its characters are upper-case letters."""
    suffix = ""
    for start in (0, 5, 10):
        chunk = id15[start : start + 5]
        bits = sum(1 << position for position, char in enumerate(chunk) if "A" <= char <= "Z")
        suffix += SUFFIX_ALPHABET[bits]
    return suffix


def to_18(record_id: str) -> str:
    """Normalise a 15- or 18-character id to 18 characters (other strings are returned as is)."""
    if len(record_id) == 15 and record_id.isalnum():
        return record_id + case_safe_suffix(record_id)
    return record_id


def looks_like_id(value: str) -> bool:
    return len(value) in (15, 18) and value.isalnum()


def base62(number: int, width: int) -> str:
    digits = []
    for _ in range(width):
        number, remainder = divmod(number, 62)
        digits.append(BASE62[remainder])
    return "".join(reversed(digits))


def make_id(prefix: str, number: int) -> str:
    id15 = prefix + POD + base62(number, 9)
    return id15 + case_safe_suffix(id15)


class IdMinter:
    """Hands out unique 18-character ids per key prefix, thread-safely."""

    def __init__(self, start: int = 1) -> None:
        self._counter = itertools.count(start)
        self._lock = threading.Lock()

    def mint(self, prefix: str) -> str:
        with self._lock:
            number = next(self._counter)
        return make_id(prefix, number)

    def advance_past(self, number: int) -> None:
        with self._lock:
            current = next(self._counter)
            self._counter = itertools.count(max(current, number + 1))
