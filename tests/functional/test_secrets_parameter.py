"""LEADQ_SECRETS_PARAMETER: secret settings read at run time from an SSM parameter or a Secrets
Manager secret (moto's server), applied over the environment; errors name the parameter and the
keys, never a value."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters
from moto_aws import REGION, moto_server

from sync.secrets import with_secrets
from sync.settings import Settings, SettingsError

TOKEN = "pat-na1-secret-token-42"


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with moto_server() as url, pytest.MonkeyPatch.context() as env:
        env.setenv("AWS_ENDPOINT_URL", url)
        yield url


@pytest.fixture(autouse=True)
def fresh_parameter_cache() -> None:
    parameters.clear_caches()


def settings(name: str, **values: object) -> Settings:
    return Settings(_env_file=None, secrets_parameter=name, **values)  # type: ignore[call-arg]


def ssm_parameter(endpoint: str, value: str) -> str:
    name = f"/leadq/{uuid.uuid4().hex[:8]}/secrets"
    boto3.client("ssm", region_name=REGION, endpoint_url=endpoint).put_parameter(
        Name=name, Type="SecureString", Value=value)
    return name


def test_an_ssm_parameters_secrets_override_the_environment(endpoint: str) -> None:
    name = ssm_parameter(endpoint, json.dumps({"hubspot_access_token": TOKEN,
                                               "LEADQ_WEBHOOK_SECRET": "callout-secret"}))

    loaded = with_secrets(settings(name, crm="hubspot", hubspot_access_token="from-env"))

    assert loaded.hubspot_access_token is not None
    assert loaded.hubspot_access_token.get_secret_value() == TOKEN
    assert loaded.webhook_secret is not None
    assert loaded.webhook_secret.get_secret_value() == "callout-secret"
    assert loaded.crm == "hubspot"


def test_a_secrets_manager_secret_of_that_name_is_read_when_there_is_no_parameter(
    endpoint: str,
) -> None:
    name = f"/leadq/{uuid.uuid4().hex[:8]}/secrets"
    boto3.client("secretsmanager", region_name=REGION, endpoint_url=endpoint).create_secret(
        Name=name, SecretString=json.dumps({"salesforce_password": "hunter2-hunter2"}))

    loaded = with_secrets(settings(name))

    assert loaded.salesforce_password is not None
    assert loaded.salesforce_password.get_secret_value() == "hunter2-hunter2"


@pytest.mark.parametrize(("value", "message"), [
    (None, "no SSM parameter or Secrets Manager secret"),
    ("hubspot_access_token=" + TOKEN, "not JSON"),
    (json.dumps([TOKEN]), "must be a JSON object"),
    (json.dumps({"hubspot_acess_token": TOKEN}), "unknown settings hubspot_acess_token"),
    (json.dumps({"hubspot_rate_limit": "lots-" + TOKEN}), "hubspot_rate_limit"),
])
def test_an_unusable_secrets_parameter_is_one_error_that_shows_no_value(
    endpoint: str, value: str | None, message: str
) -> None:
    name = ssm_parameter(endpoint, value) if value else "/leadq/missing/secrets"

    with pytest.raises(SettingsError) as raised:
        with_secrets(settings(name))

    assert str(raised.value).startswith(f"LEADQ_SECRETS_PARAMETER ({name}): ")
    assert message in str(raised.value)
    assert TOKEN not in str(raised.value)


def test_without_a_secrets_parameter_the_settings_stay_as_they_are() -> None:
    plain = Settings(_env_file=None, crm="salesforce")  # type: ignore[call-arg]

    assert with_secrets(plain) is plain
