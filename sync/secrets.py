"""Secret settings by name: `LEADQ_SECRETS_PARAMETER` names an SSM parameter (a SecureString) or a
Secrets Manager secret holding one JSON object of settings, keyed by setting name with or without
`LEADQ_` (e.g. `{"hubspot_access_token": "…", "hubspot_client_secret": "…"}`).

It is fetched at run time with Powertools parameters (SSM first, then Secrets Manager) and cached
for `SECRETS_MAX_AGE_SECONDS`; nothing resolves it when the functions are packaged. Its values
override the environment's. Errors name the parameter and the keys, never a value.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import ValidationError

from sync.settings import ENV_PREFIX, Settings, SettingsError, variable

SECRETS_MAX_AGE_SECONDS = 300


def with_secrets(settings: Settings) -> Settings:
    """`settings` with the secrets parameter's values, when one is named."""
    name = settings.secrets_parameter
    if not name:
        return settings
    return merged(settings, fetch_secrets(name), name)


def fetch_secrets(name: str) -> Mapping[str, object]:
    from aws_lambda_powertools.utilities import parameters
    from aws_lambda_powertools.utilities.parameters.exceptions import (
        GetParameterError,
        TransformParameterError,
    )

    where = f"{variable('secrets_parameter')} ({name})"
    try:
        try:
            found = parameters.get_parameter(
                name, decrypt=True, transform="json", max_age=SECRETS_MAX_AGE_SECONDS
            )
        except GetParameterError:
            found = parameters.get_secret(
                name, transform="json", max_age=SECRETS_MAX_AGE_SECONDS
            )
    except GetParameterError:
        raise SettingsError(
            f"{where}: no SSM parameter or Secrets Manager secret of that name could be read"
        ) from None
    except TransformParameterError:
        raise SettingsError(f"{where}: its value is not JSON") from None
    if not isinstance(found, Mapping):
        raise SettingsError(f"{where}: its value must be a JSON object of settings")
    return found


def merged(settings: Settings, secrets: Mapping[str, object], name: str) -> Settings:
    values = {key.lower().removeprefix(ENV_PREFIX.lower()): value for key, value in secrets.items()}
    where = f"{variable('secrets_parameter')} ({name})"
    unknown = sorted(set(values) - set(Settings.model_fields))
    if unknown:
        raise SettingsError(f"{where}: unknown settings {', '.join(unknown)}")
    try:
        return Settings.model_validate({**settings.model_dump(), **values})
    except ValidationError as error:
        problem = error.errors(include_input=False, include_url=False)[0]
        field = ".".join(str(part) for part in problem["loc"])
        raise SettingsError(f"{where}: {field}: {problem['msg'].lower()}") from None
