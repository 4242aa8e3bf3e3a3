"""A stateful Salesforce REST emulator over TLS for leadq's connectors and tests.

    with start_salesforce(leads=200) as salesforce:
        sf = Salesforce(username=salesforce.username, password=salesforce.password,
                        security_token=salesforce.security_token, session=salesforce.session())
"""

from sandbox.salesforce.app import SalesforceEmulator
from sandbox.salesforce.assignment import AssignmentRule
from sandbox.salesforce.outbound import OutboundDelivery, OutboundMessenger
from sandbox.salesforce.running import RunningSalesforce, sandbox_session, start_salesforce
from sandbox.salesforce.seed import seed_org
from sandbox.salesforce.store import SalesforceStore

__all__ = [
    "AssignmentRule",
    "OutboundDelivery",
    "OutboundMessenger",
    "RunningSalesforce",
    "SalesforceEmulator",
    "SalesforceStore",
    "sandbox_session",
    "seed_org",
    "start_salesforce",
]
