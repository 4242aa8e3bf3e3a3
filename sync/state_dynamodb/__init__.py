"""The deployed state store: one DynamoDB table, on-demand billing, single-table design.

`table.py` holds the client, the table's creation and the batched requests, `values.py` how
scalars travel; each capability of the state protocol is a module of its own — `cursors.py`
(cursors, named documents), `written.py`, `ledger.py`, `routing.py`, `dedupe.py`, `runs.py`
(leases, run records), `work_queue.py`, `retry_set.py`, `audit.py` (audit rows and the
write-ahead audit) — composed into `DynamoDBStateStore` by `store.py`.

Key schema (both keys strings; `serverless.yml` must declare the same table):

    pk                      sk                                what
    CURSOR#<name>           CURSOR                            cursor (ISO time)
    DOC#<name>              DOC                               body (a named document's text)
    LEDGER#<crm>            <lead id>                         packed (binary: the lead's activity)
    LEAD#<crm>#<lead id>    WRITTEN                           crm, lead_id, field_values (map),
                                                              floats, numbers_as_text, run_id,
                                                              written_at
    POOL#<pool>             VERSION                           version (number)
    POOL#<pool>             OWNER#<owner id>                  assigned (number, all time)
    POOL#<pool>             DAY#<yyyy-mm-dd>#OWNER#<owner id> assigned (number), expires_at
    ASSIGN#<lead id>        ASSIGN                            pool, owner_id, day
    DEDUPE#<key>            DEDUPE                            expires_at
    QUEUE                   <ISO queued_at>#<work id>         id, queued_at, payload, claimed_by,
                                                              claim_expires (leadq serve)
    LEASE#<name>            LEASE                             holder, expires_at
    AUDIT#<lead id>         <ISO time>#<run id>               a lead's changes in one run: at,
                                                              run_id, crm, lead_id,
                                                              model_version, actor, fields
                                                              (binary: zlib JSON, one entry per
                                                              field), keep_until, expires_at
                                                              (items before schema 5: one per
                                                              field, sk …#<field>)
    RUN                     <ISO started_at>#<run id>         the run's attributes
    RETRY#<crm>             <lead id>                         attempts, first_failed_at,
                                                              last_failed_at, error, run_id
    INTENDED#<crm>          <ISO recorded_at>#<id>#<part>     intent_key, id, recorded_at, writer,
                                                              entries (JSON)

`expires_at` (epoch seconds) is the table's TTL attribute: DynamoDB deletes expired dedupe keys,
leases, old daily counters and audit rows past their retention by itself, though only
eventually, so every condition still checks `expires_at` against `now` rather than trusting an
item's absence.

Atomicity comes from condition expressions and `TransactWriteItems`; never from reading first.
Numbers travel as DynamoDB numbers; floats go out as their shortest exact decimal (what
`Decimal(repr(x))` gives). Since DynamoDB trims `3.0` to `3`, the names of float-valued
attributes are kept beside them (`floats`); the rare number no DynamoDB number can hold (5e-324,
a 40-digit integer) goes as text, named in `numbers_as_text`. So every value comes back exactly,
type included. An intended write's entries go as JSON, split into parts of at most
`INTENDED_PART_BYTES` so that a batch with long reasons stays within DynamoDB's item size. Batches
respect DynamoDB's limits (100 keys per BatchGetItem, 25 items per BatchWriteItem) and retry the
unprocessed part; throttling is retried by botocore's standard retry mode.
"""

from sync.state_dynamodb.store import DynamoDBStateStore
from sync.state_dynamodb.table import create_table, dynamodb_client

__all__ = ["DynamoDBStateStore", "create_table", "dynamodb_client"]
