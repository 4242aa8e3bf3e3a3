from __future__ import annotations

import dataclasses

from connectors.salesforce_config import SalesforceConfig, setting_name
from sync.settings import Settings

SHARED_READ_SETTINGS = {"page_size": "read_page_size", "overlap_seconds": "overlap_seconds"}


def test_every_salesforce_config_field_names_a_setting_a_person_can_set() -> None:
    for field in dataclasses.fields(SalesforceConfig):
        setting = SHARED_READ_SETTINGS.get(field.name, f"salesforce_{field.name}")
        assert setting in Settings.model_fields, field.name
        if field.name not in SHARED_READ_SETTINGS:
            assert setting_name(field.name) == f"LEADQ_{setting.upper()}"


def test_secrets_stay_out_of_the_config_repr() -> None:
    config = SalesforceConfig(username="ann", password="hunter2", security_token="tok",
                              session_id="00D!sess", consumer_secret="shh")
    shown = repr(config)
    assert "hunter2" not in shown and "tok" not in shown
    assert "00D!sess" not in shown and "shh" not in shown
