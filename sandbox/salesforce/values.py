"""How field values travel: SQLite storage form, JSON rendering and parsing of written values.

Datetimes are stored in the very form the REST API renders them (`2024-01-01T00:00:00.000+0000`,
always UTC), which is fixed-width and so sorts and compares correctly as text.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

from sandbox.salesforce.errors import SalesforceApiError
from sandbox.salesforce.schema import TEXT_TYPES, FieldDef

DATETIME_PATTERN = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?"
    r"(Z|[+-]\d{2}:?\d{2})?$"
)

ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def stored_datetime(moment: datetime) -> str:
    """The canonical UTC text of a datetime (naive datetimes are taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    elif moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    return (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}T{moment.hour:02d}:"
        f"{moment.minute:02d}:{moment.second:02d}.{moment.microsecond // 1000:03d}+0000"
    )


def parse_datetime_text(text: str) -> datetime | None:
    """Parse ISO-8601 the way Salesforce accepts it in JSON bodies and SOQL literals (a date is
    midnight UTC, a time without a zone is UTC); `None` for anything else."""
    text = text.strip()
    if not DATETIME_PATTERN.match(text):
        return None  # fromisoformat reads more shapes (20240101, week dates) than Salesforce
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def stored_date(day: date) -> str:
    return day.isoformat()


def render(field: FieldDef, stored: Any) -> Any:
    """The JSON value of a stored field: typed, never a string for numbers or booleans."""
    if field.type == "boolean":
        return bool(stored)
    if stored is None:
        return None
    if field.type == "int":
        return int(stored)
    if field.type in ("double", "currency", "percent"):
        return float(stored)
    return stored


def bad_value(field: FieldDef, value: Any, expected: str) -> SalesforceApiError:
    return SalesforceApiError(
        400,
        "JSON_PARSER_ERROR",
        f"Cannot deserialize instance of {expected} from {type(value).__name__} value {value!r} "
        f"for field {field.name}",
    )


def to_storage(field: FieldDef, value: Any) -> Any:
    """Validate a value written through the API and turn it into its stored form."""
    if value is None:
        return None
    kind = field.type
    if kind == "boolean":
        return _boolean(field, value)
    if kind == "int":
        return int(_number(field, value, "int"))
    if kind in ("double", "currency", "percent"):
        return float(_number(field, value, "double"))
    if kind == "datetime":
        return _datetime(field, value)
    if kind == "date":
        return _date(field, value)
    if kind in TEXT_TYPES:
        if isinstance(value, bool | dict | list):
            raise bad_value(field, value, "string")
        return str(value)
    return value


def _boolean(field: FieldDef, value: Any) -> int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return int(value.lower() == "true")
    raise bad_value(field, value, "boolean")


def _number(field: FieldDef, value: Any, expected: str) -> float:
    if isinstance(value, bool):
        raise bad_value(field, value, expected)
    if isinstance(value, int | float):
        return value
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    raise bad_value(field, value, expected)


def _datetime(field: FieldDef, value: Any) -> str:
    moment = parse_datetime_text(value) if isinstance(value, str) else None
    if moment is None:
        raise bad_value(field, value, "datetime")
    return stored_datetime(moment)


def _date(field: FieldDef, value: Any) -> str:
    """A date field takes `YYYY-MM-DD` only: Salesforce refuses a date-time for a date
    (JSON_PARSER_ERROR), so a Task's due time cannot ride in ActivityDate."""
    if not isinstance(value, str) or not ISO_DATE.fullmatch(value):
        raise bad_value(field, value, "date")
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError as error:
        raise bad_value(field, value, "date") from error
