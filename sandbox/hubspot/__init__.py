"""A stateful HubSpot CRM v3 emulator that `hubspot-api-client` drives over real HTTP.

    with start_hubspot(leads=500) as hubspot:
        client = HubSpot(access_token=hubspot.access_token, host=hubspot.base_url)
        client.crm.contacts.basic_api.get_page(limit=100)

Modules: `store` (SQLite), `schema` (object types, properties, string values), `writes` (validation,
the lifecycle rule, change events), `search` (filter compilation), `activity` (canonical
activities as engagements, events and summary properties), `seed` (a synthetic org into the
portal), `webhooks` (signed v3 notifications), `auth` and `limits`, the `*_api` handlers, `app`
(routing) and `running` (`start_hubspot`).
"""

from sandbox.hubspot.app import HubSpotEmulator
from sandbox.hubspot.portal import Portal, PortalSettings
from sandbox.hubspot.running import RunningHubSpot, start_hubspot
from sandbox.hubspot.seed import seed_org
from sandbox.hubspot.store import HubSpotStore

__all__ = [
    "HubSpotEmulator",
    "HubSpotStore",
    "Portal",
    "PortalSettings",
    "RunningHubSpot",
    "seed_org",
    "start_hubspot",
]
