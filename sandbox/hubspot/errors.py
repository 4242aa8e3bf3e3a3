"""HubSpot's error bodies, and `ApiError`, which any handler raises to answer with one.

Shape (every field optional for a client): ``{"status": "error", "message", "correlationId",
"category", "errors": [{"message", "in", "code"}], "context", "subCategory"}``. Rate-limit refusals
add ``errorType: "RATE_LIMIT"`` and ``policyName``. Where HubSpot's exact wording was not confirmed
by a primary source the message says so in the function's docstring.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from werkzeug.wrappers import Response


def correlation_id() -> str:
    return str(uuid.uuid4())


def error_body(
    message: str,
    category: str,
    *,
    errors: list[dict[str, Any]] | None = None,
    context: Mapping[str, list[str]] | None = None,
    sub_category: str | None = None,
    links: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "status": "error",
        "message": message,
        "correlationId": correlation_id(),
        "category": category,
    }
    if sub_category:
        body["subCategory"] = sub_category
    if errors:
        body["errors"] = errors
    if context:
        body["context"] = dict(context)
    if links:
        body["links"] = dict(links)
    return body


def json_response(
    body: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    return Response(
        json.dumps(body, separators=(",", ":")),
        status=status,
        headers=dict(headers or {}),
        content_type="application/json;charset=utf-8",
    )


class ApiError(Exception):
    """Raised by a handler: the emulator answers with `status` and `body`."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(body.get("message", ""))
        self.status = status
        self.body = body

    def response(self, headers: Mapping[str, str] | None = None) -> Response:
        return json_response(self.body, self.status, headers)


def bad_request(message: str, **fields: Any) -> ApiError:
    return ApiError(400, error_body(message, "VALIDATION_ERROR", **fields))


def not_found(object_id: str) -> ApiError:
    return ApiError(
        404,
        error_body(
            "Object not found.  objectId are usually numeric.",
            "OBJECT_NOT_FOUND",
            context={"id": [object_id]},
        ),
    )


def route_not_found(path: str) -> ApiError:
    message = f"Unable to infer object type from: {path}"
    return ApiError(404, error_body(message, "OBJECT_NOT_FOUND"))


def conflict(message: str) -> ApiError:
    return ApiError(409, error_body(message, "CONFLICT"))


def property_problems(problems: Iterable[tuple[str, str, str]]) -> ApiError:
    """400 for invalid property values: (property name, error code, message) each.

    HubSpot packs the per-property details as JSON inside the message, then repeats them in
    `errors` (code and the property name in context).
    """
    details = [
        {
            "isValid": False,
            "message": message,
            "error": code,
            "name": name,
            "localizedErrorMessage": message,
        }
        for name, code, message in problems
    ]
    return bad_request(
        "Property values were not valid: " + json.dumps(details, separators=(",", ":")),
        errors=[
            {"message": detail["message"], "code": detail["error"],
             "context": {"propertyName": [detail["name"]]}}
            for detail in details
        ],
    )


def unknown_property(name: str) -> tuple[str, str, str]:
    return name, "PROPERTY_DOESNT_EXIST", f'Property "{name}" does not exist'


def read_only_property(name: str) -> tuple[str, str, str]:
    return name, "READ_ONLY_VALUE", f'"{name}" is a read only property; its value cannot be set.'


def invalid_credentials() -> ApiError:
    return ApiError(
        401,
        error_body(
            "Authentication credentials not found. This API supports OAuth 2.0 authentication "
            "and you can find more details at "
            "https://developers.hubspot.com/docs/methods/auth/oauth-overview",
            "INVALID_AUTHENTICATION",
        ),
    )


def expired_token(seconds_ago: float) -> ApiError:
    return ApiError(
        401,
        error_body(
            f"The OAuth token used to make this call expired {max(1, int(seconds_ago))} "
            "second(s) ago.",
            "EXPIRED_AUTHENTICATION",
        ),
    )


def missing_scopes(required: Iterable[str], message: str | None = None) -> ApiError:
    return ApiError(
        403,
        error_body(
            message
            or "This app hasn't been granted all required scopes to make this call. Read more "
            "about required scopes here: https://developers.hubspot.com/scopes.",
            "MISSING_SCOPES",
            errors=[
                {
                    "message": "One or more of the following scopes are required.",
                    "context": {"requiredGranularScopes": sorted(required)},
                }
            ],
            links={"scopes": "https://developers.hubspot.com/scopes"},
        ),
    )


RATE_LIMIT_MESSAGES = {
    "TEN_SECONDLY_ROLLING": "You have reached your ten_secondly_rolling limit.",
    "SECONDLY": "You have reached your secondly limit.",
    "DAILY": "You have reached your daily limit.",
}


def rate_limit_body(policy: str) -> dict[str, Any]:
    return {
        "status": "error",
        "message": RATE_LIMIT_MESSAGES[policy],
        "errorType": "RATE_LIMIT",
        "correlationId": correlation_id(),
        "policyName": policy,
    }


def server_error_body(status: int) -> dict[str, Any]:
    """The JSON HubSpot's edge answers with on a transient failure (502 or 503)."""
    message = {
        502: "Bad Gateway: the server encountered a temporary error and could not complete "
        "your request.",
        503: "Service Unavailable: the server is temporarily unable to handle your request.",
    }[status]
    return {
        "status": "error",
        "message": message,
        "correlationId": correlation_id(),
        "category": "INTERNAL_ERROR" if status == 502 else "SERVICE_UNAVAILABLE",
    }


def oauth_error(status_code: str, message: str) -> ApiError:
    """OAuth token endpoint errors carry their code in `status` (BAD_REFRESH_TOKEN, …)."""
    return ApiError(
        400,
        {"status": status_code, "message": message, "correlationId": correlation_id()},
    )
