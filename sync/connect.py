"""From leadq's settings to a connector: the only place that reads `LEADQ_HUBSPOT_*` and
`LEADQ_SALESFORCE_*` for the connectors, which take their own small config objects instead."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

from sync.settings import Settings

if TYPE_CHECKING:
    import requests

    from connectors.base import Connector
    from connectors.hubspot import HubSpotConnector
    from connectors.retry import RetrySettings
    from connectors.salesforce import SalesforceConnector
    from connectors.salesforce_config import SalesforceConfig
    from connectors.salesforce_kept_session import SessionCache


def connector_type(crm: str) -> type[Connector]:
    """The connector class for `crm`, imported only when that CRM is used."""
    if crm == "hubspot":
        from connectors.hubspot import HubSpotConnector

        return HubSpotConnector
    from connectors.salesforce import SalesforceConnector

    return SalesforceConnector


def retry_settings(settings: Settings) -> RetrySettings:
    """The connectors' retry policy: the settings' time budget per call."""
    from connectors.retry import RetrySettings

    return RetrySettings(budget_seconds=settings.retry_budget_seconds)


def revealed(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None


def hubspot_connector(
    settings: Settings,
    *,
    extra_properties: Sequence[str] = (),
    output_properties: Sequence[str] = (),
    **options: Any,
) -> HubSpotConnector:
    """The HubSpot connector the settings describe (`LEADQ_HUBSPOT_*`, overlap and page size)."""
    from connectors.hubspot import HubSpotConnector, OAuthApp

    oauth = None
    client_secret, refresh_token = settings.hubspot_client_secret, settings.hubspot_refresh_token
    if settings.hubspot_client_id and client_secret and refresh_token:
        oauth = OAuthApp(settings.hubspot_client_id, client_secret.get_secret_value(),
                         refresh_token.get_secret_value())
    return HubSpotConnector(
        base_url=settings.hubspot_base_url,
        access_token=revealed(settings.hubspot_access_token),
        oauth=oauth,
        extra_properties=extra_properties,
        output_properties=output_properties,
        rate_limit=settings.hubspot_rate_limit,
        search_rate=settings.hubspot_search_rate,
        overlap_seconds=float(settings.overlap_seconds),
        page_size=settings.read_page_size,
        **options,
    )


def salesforce_config(settings: Settings) -> SalesforceConfig:
    """The Salesforce connector's config from `LEADQ_SALESFORCE_*` (and the shared read
    settings: a page size only when one was set, else Salesforce's largest)."""
    from connectors.salesforce_config import SalesforceConfig

    page_size = settings.read_page_size if "read_page_size" in settings.model_fields_set else None
    return SalesforceConfig(
        login_url=settings.salesforce_login_url,
        api_version=settings.salesforce_api_version,
        username=settings.salesforce_username,
        password=revealed(settings.salesforce_password),
        security_token=revealed(settings.salesforce_security_token),
        session_id=revealed(settings.salesforce_session_id),
        instance_url=settings.salesforce_instance_url,
        consumer_key=settings.salesforce_consumer_key,
        consumer_secret=revealed(settings.salesforce_consumer_secret),
        private_key_file=settings.salesforce_private_key_file,
        ca_bundle=settings.salesforce_ca_bundle,
        objects=tuple(settings.salesforce_objects),
        rate_limit=settings.salesforce_rate_limit,
        bulk_threshold=settings.salesforce_bulk_threshold,
        page_size=page_size,
        overlap_seconds=float(settings.overlap_seconds),
    )


def salesforce_connector(
    settings: Settings,
    session: requests.Session | None = None,
    *,
    extra_fields: Sequence[str] = (),
    retry: RetrySettings | None = None,
    kept_sessions: SessionCache | None = None,
) -> SalesforceConnector:
    """Log in as the settings describe (session id, JWT, client credentials or password), or
    connect with the session `kept_sessions` holds for that login."""
    from connectors.salesforce import SalesforceConnector

    return SalesforceConnector.from_config(
        salesforce_config(settings), session, extra_fields=extra_fields, retry=retry,
        kept_sessions=kept_sessions,
    )
