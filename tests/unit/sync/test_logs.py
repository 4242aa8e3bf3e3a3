"""The handlers' log lines: JSON, and never a secret or a full e-mail address."""

from __future__ import annotations

import io
import json
import logging
import sys

from pydantic import SecretStr

from sync.logs import RedactingFormatter, formatter, hide_secrets, logger
from sync.settings import Settings


def formatted(formatter: RedactingFormatter, message: str, *args: object) -> dict[str, object]:
    record = logging.LogRecord("leadq", logging.WARNING, __file__, 1, message, args, None)
    return json.loads(formatter.format(record))


def test_e_mail_addresses_are_replaced_wherever_they_appear() -> None:
    line = formatted(RedactingFormatter(), "no owner for %s (cc %s)", "Jane.Doe+x@acme.example",
                     "ops@sub.acme.co.uk")

    assert line["message"] == "no owner for [e-mail] (cc [e-mail])"


def test_the_settings_secrets_are_replaced_in_messages_and_tracebacks() -> None:
    settings = Settings(_env_file=None, hubspot_access_token=SecretStr("pat-na1-1234-secret"),
                        webhook_secret=SecretStr('sh"ared\\secret'))  # type: ignore[call-arg]
    hide_secrets(settings)
    try:
        raise RuntimeError("401 for token pat-na1-1234-secret")
    except RuntimeError:
        failure = sys.exc_info()
    record = logging.LogRecord("leadq", logging.ERROR, __file__, 1, "secret %s",
                               ('sh"ared\\secret',), failure)

    text = formatter.format(record)

    assert "pat-na1-1234-secret" not in text and "ared" not in text
    assert json.loads(text)["message"] == "secret [secret]"
    assert "401 for token [secret]" in json.loads(text)["exception"]


def test_library_loggers_write_through_the_handlers_formatter() -> None:
    stream = io.StringIO()
    handler = logger.registered_handler
    previous = handler.setStream(stream)  # type: ignore[attr-defined]
    try:
        logging.getLogger("connectors.hubspot_activities").warning("lead %s", "a@b.example")
    finally:
        handler.setStream(previous)  # type: ignore[attr-defined]

    assert json.loads(stream.getvalue())["message"] == "lead [e-mail]"
