"""schemathesis hooks for scripts/contract (loaded by schemathesis.toml).

A list cursor is opaque: only a value the service itself returned as
`next_cursor` (for the same sort and filters) is valid, and no schema can
say which strings those are. Every non-empty string is schema-valid, so a
generated cursor would be "valid data" the service rightly refuses with 400.
Generated cases therefore never send a cursor the service did not issue:
this hook drops such a `cursor` from the query before the call. An empty
cursor (which the schema forbids) is kept, so negative cases still send it.
The API suite covers real, tampered and foreign cursors
(crates/overkill/tests/api/listing.rs and orders.rs).
"""

import schemathesis


@schemathesis.hook
def before_call(ctx, case, **kwargs):
    query = case.query
    if query and isinstance(query.get("cursor"), str) and query["cursor"] != "":
        case.query = {name: value for name, value in query.items() if name != "cursor"}
