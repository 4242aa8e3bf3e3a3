"""What a handler gets for one authenticated request."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from werkzeug.wrappers import Request

from sandbox.hubspot import errors
from sandbox.hubspot.auth import AccessToken
from sandbox.hubspot.portal import Portal
from sandbox.hubspot.schema import ObjectType, resolve_object_type
from sandbox.hubspot.writes import ChangeSource
from sandbox.server import FaultPlan


@dataclass
class Call:
    request: Request
    args: dict[str, str]
    token: AccessToken
    portal: Portal
    faults: FaultPlan

    @property
    def source(self) -> ChangeSource:
        """API writes are the integration's: its app id is the webhook `sourceId`."""
        return ChangeSource("INTEGRATION", str(self.token.app_id))

    def json(self) -> Any:
        try:
            return json.loads(self.request.get_data(as_text=True) or "null")
        except json.JSONDecodeError as error:
            raise errors.bad_request(f"Invalid input JSON on line {error.lineno}, column "
                                     f"{error.colno}: {error.msg}") from error

    def object_type(self, key: str = "object_type") -> ObjectType:
        object_type = resolve_object_type(self.args[key])
        if object_type is None:
            raise errors.route_not_found(self.args[key])
        return object_type
