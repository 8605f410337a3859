"""Schemathesis hooks for Steerco: strategies for its custom scalars, and the one check that
matters for a GraphQL API whose refusals are data: no request may fail on the server's side
(an HTTP 5xx, or a top-level error coded INTERNAL)."""

from datetime import timezone

import schemathesis
from hypothesis import strategies as st
from schemathesis.graphql import nodes

schemathesis.graphql.scalar(
    "NaiveDate", st.dates().map(lambda d: nodes.String(d.isoformat()))
)
schemathesis.graphql.scalar(
    "DateTime",
    st.datetimes(timezones=st.just(timezone.utc)).map(
        lambda d: nodes.String(d.isoformat())
    ),
)
schemathesis.graphql.scalar(
    "Decimal",
    st.decimals(allow_nan=False, allow_infinity=False, places=2).map(
        lambda d: nodes.String(str(d))
    ),
)
schemathesis.graphql.scalar("UUID", st.uuids().map(lambda u: nodes.String(str(u))))
schemathesis.graphql.scalar(
    "JSON", st.text(max_size=20).map(lambda t: nodes.String(t))
)


@schemathesis.check
def no_internal_error(ctx, response, case):
    if response.status_code >= 500:
        raise AssertionError(f"HTTP {response.status_code}")
    try:
        body = response.json()
    except ValueError:
        raise AssertionError("the body is not JSON")
    for error in body.get("errors") or []:
        code = (error.get("extensions") or {}).get("code")
        if code == "INTERNAL" or code is None:
            raise AssertionError(f"top-level error coded {code!r}: {error.get('message')}")
