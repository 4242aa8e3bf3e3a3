"""The handlers' log: Powertools Logger, one JSON object a line, with a correlation id (the HTTP
request's id, the SQS message's id, the scheduled event's id).

No line may carry a secret or a full e-mail address, whatever a message or an exception's text
holds: the formatter replaces every e-mail address with `[e-mail]` and every known secret value
(`hide_secrets`: the settings' SecretStr values) with `[secret]` in the finished line. leadq's own
library loggers (connectors, scoring, sync) write through the same formatter.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Iterable

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
from pydantic import BaseModel, SecretStr

SERVICE = "leadq"
LIBRARY_LOGGERS = ("connectors", "scoring", "sync")
EMAIL_ADDRESS = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+")
SHORTEST_SECRET = 6  # shorter values would blank out ordinary words


class RedactingFormatter(LambdaPowertoolsFormatter):
    def __init__(self, **options: object) -> None:
        super().__init__(**options)  # type: ignore[arg-type]
        self._secrets: tuple[str, ...] = ()
        self._lock = threading.Lock()

    def hide(self, values: Iterable[str]) -> None:
        forms = {form for value in values if len(value) >= SHORTEST_SECRET
                 for form in (value, json.dumps(value)[1:-1])}
        with self._lock:
            self._secrets = tuple(sorted({*self._secrets, *forms}, key=len, reverse=True))

    def redact(self, line: str) -> str:
        for secret in self._secrets:
            line = line.replace(secret, "[secret]")
        return EMAIL_ADDRESS.sub("[e-mail]", line)

    def format(self, record: logging.LogRecord) -> str:
        return self.redact(super().format(record))


formatter = RedactingFormatter()
logger = Logger(service=SERVICE, logger_formatter=formatter)


def route_library_logs() -> None:
    """Send leadq's library loggers' records through the handlers' formatter and stream."""
    for name in LIBRARY_LOGGERS:
        library = logging.getLogger(name)
        if not any(handler is logger.registered_handler for handler in library.handlers):
            library.addHandler(logger.registered_handler)
        library.propagate = False


def hide_secrets(settings: BaseModel) -> None:
    """Redact every SecretStr value of `settings` from all later lines."""
    formatter.hide(
        value.get_secret_value()
        for value in (getattr(settings, name) for name in type(settings).model_fields)
        if isinstance(value, SecretStr)
    )


def with_correlation_id(correlation_id: str | None) -> None:
    """Tag this thread's later lines (a Lambda invocation, or a `leadq serve` thread)."""
    logger.thread_safe_append_keys(correlation_id=correlation_id)


route_library_logs()
