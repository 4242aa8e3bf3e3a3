"""Salesforce's error answers: `[{"message", "errorCode", "fields"}]` with the matching status."""

from __future__ import annotations

import json
from typing import Any

from werkzeug.wrappers import Response

JSON_CONTENT_TYPE = "application/json;charset=UTF-8"


class SalesforceApiError(Exception):
    """An error the REST API answers with; raise it anywhere below the routing."""

    def __init__(
        self, status: int, error_code: str, message: str, fields: list[str] | None = None
    ) -> None:
        super().__init__(f"{error_code}: {message}")
        self.status = status
        self.error_code = error_code
        self.message = message
        self.fields = fields

    def body(self) -> list[dict[str, Any]]:
        entry: dict[str, Any] = {"message": self.message, "errorCode": self.error_code}
        if self.fields is not None:
            entry["fields"] = self.fields
        return [entry]

    def as_record_error(self) -> dict[str, Any]:
        """The shape used inside sObject Collections results."""
        return {"statusCode": self.error_code, "message": self.message, "fields": self.fields or []}


def json_response(payload: Any, status: int = 200) -> Response:
    return Response(json.dumps(payload), status=status, content_type=JSON_CONTENT_TYPE)


def error_response(error: SalesforceApiError) -> Response:
    return json_response(error.body(), error.status)


def invalid_session() -> SalesforceApiError:
    return SalesforceApiError(401, "INVALID_SESSION_ID", "Session expired or invalid")


def request_limit_exceeded() -> SalesforceApiError:
    return SalesforceApiError(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")


def server_unavailable() -> SalesforceApiError:
    return SalesforceApiError(
        503, "SERVER_UNAVAILABLE", "Server is temporarily unavailable, please try again later."
    )


def not_found() -> SalesforceApiError:
    return SalesforceApiError(404, "NOT_FOUND", "The requested resource does not exist")


def unknown_field(field_name: str, sobject: str) -> SalesforceApiError:
    return SalesforceApiError(
        400,
        "INVALID_FIELD",
        f"No such column '{field_name}' on sobject of type {sobject}",
        [],
    )


def unknown_sobject(name: str) -> SalesforceApiError:
    return SalesforceApiError(404, "NOT_FOUND", f"The requested resource does not exist: {name}")
