"""DynamoDB: each person's requests, newest first, for their App Home.

The table's one index is by status, and holds no requester; a person's recent requests, closed
ones included, would otherwise need a read of every request. So filing writes one more small
item in the same transaction (bot/store/dynamodb.py):

    by requester   pk = BY#<requester>    sk = <created_at>#<id>    request_id

A Query on `pk`, newest first with `Limit`, gives the newest ids; the requests themselves are
then read consistently, so what is shown is never a stale status. The index items carry no ttl
(like audit items: one small item per request). A request DynamoDB has deleted (30 days after it
closed) is simply not found and drops out of the list; as those are the oldest, the newest are
still shown. Requests filed before this item existed are not listed.
"""

from __future__ import annotations

from typing import Any

Item = dict[str, dict[str, Any]]

PREFIX = "BY#"


def index_item(request_item: Item) -> Item:
    """The index item for a request item about to be filed (its `gsi1sk` is
    `<sortable created_at>#<id>`, which sorts by filing time)."""
    requester = request_item["requester"]["S"]
    return {
        "pk": {"S": PREFIX + requester},
        "sk": request_item["gsi1sk"],
        "kind": {"S": "by_requester"},
        "request_id": request_item["id"],
    }


def newest_ids(client: Any, table: str, requester: str, limit: int) -> list[str]:
    """The ids of `requester`'s `limit` newest requests, newest first (one Query)."""
    if limit <= 0:
        return []
    answer = client.query(
        TableName=table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": PREFIX + requester}},
        ScanIndexForward=False,
        Limit=limit,
        ConsistentRead=True,
    )
    return [str(item["request_id"]["S"]) for item in answer.get("Items", [])]
