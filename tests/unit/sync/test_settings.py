"""Settings come from the environment, a .env file or a secrets directory; errors name variables."""

from __future__ import annotations

from pathlib import Path

import pytest

from sync.settings import SettingsError, load_settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("LEADQ_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def test_settings_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEADQ_CRM", "salesforce")
    monkeypatch.setenv("LEADQ_SALESFORCE_USERNAME", "ops@acme.example")
    monkeypatch.setenv("LEADQ_SALESFORCE_PASSWORD", "pw")
    monkeypatch.setenv("LEADQ_SALESFORCE_OBJECTS", '["Lead", "Contact"]')
    settings = load_settings()
    settings.require_credentials()
    assert settings.crm == "salesforce"
    assert settings.salesforce_objects == ["Lead", "Contact"]
    assert "pw" not in repr(settings)


def test_a_dotenv_file_and_a_secrets_directory_are_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("LEADQ_MIN_SCORE_CHANGE=5\n")
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "leadq_hubspot_access_token").write_text("pat-na1-secret")
    settings = load_settings(secrets_dir=secrets)
    assert settings.min_score_change == 5
    assert settings.hubspot_access_token is not None
    assert settings.hubspot_access_token.get_secret_value() == "pat-na1-secret"


def test_missing_hubspot_credentials_name_the_variables_to_set() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings().require_credentials()
    assert str(caught.value) == (
        "HubSpot needs credentials: set LEADQ_HUBSPOT_ACCESS_TOKEN (a private-app token), or "
        "LEADQ_HUBSPOT_CLIENT_ID, LEADQ_HUBSPOT_CLIENT_SECRET, LEADQ_HUBSPOT_REFRESH_TOKEN "
        "for a public app"
    )


def test_missing_salesforce_credentials_name_every_way_to_log_in(monkeypatch) -> None:
    monkeypatch.setenv("LEADQ_CRM", "salesforce")
    with pytest.raises(SettingsError) as caught:
        load_settings().require_credentials()
    assert str(caught.value).startswith(
        "Salesforce needs credentials: set LEADQ_SALESFORCE_USERNAME, LEADQ_SALESFORCE_PASSWORD"
    )


def test_a_wrong_value_names_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEADQ_CRM", "pipedrive")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert (
        str(caught.value)
        == "LEADQ_CRM: input should be 'hubspot' or 'salesforce' (got 'pipedrive')"
    )


@pytest.mark.parametrize("written", ["Lead,Contact", " Lead , Contact ", '["Lead", "Contact"]'])
def test_salesforce_objects_may_be_listed_with_commas_or_as_json(
    monkeypatch: pytest.MonkeyPatch, written: str
) -> None:
    monkeypatch.setenv("LEADQ_SALESFORCE_OBJECTS", written)
    assert load_settings().salesforce_objects == ["Lead", "Contact"]


def test_an_object_leadq_does_not_score_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEADQ_SALESFORCE_OBJECTS", "Lead,Account")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert str(caught.value) == (
        "LEADQ_SALESFORCE_OBJECTS: input should be 'Lead' or 'Contact' (got 'Account')"
    )


@pytest.mark.parametrize(
    "variable",
    ["LEADQ_HUBSPOT_BASE_URL", "LEADQ_SALESFORCE_LOGIN_URL", "LEADQ_SALESFORCE_INSTANCE_URL"],
)
def test_a_crm_address_must_be_an_http_url(monkeypatch: pytest.MonkeyPatch, variable: str) -> None:
    monkeypatch.setenv(variable, "ftp://crm.example")
    with pytest.raises(SettingsError, match=rf"^{variable}: must be an http:// or https:// URL"):
        load_settings()


def test_the_default_env_file_may_be_absent() -> None:
    assert load_settings().crm == "hubspot"


def test_a_queue_url_that_is_not_a_web_address_is_refused_with_an_example(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LEADQ_QUEUE_URL", "leadq-work")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert str(caught.value) == (
        "LEADQ_QUEUE_URL: must be an http:// or https:// URL, e.g. "
        "https://sqs.eu-west-1.amazonaws.com/123456789012/leadq-work (got 'leadq-work')"
    )
