"""Where a request comes from, at the door, for a workspace install and an Enterprise Grid one.

A workspace install's requests always name their workspace: `team.id` in an interactivity
payload, `team_id` in an Events API body. An org-wide install (manifest.org.yml) gets the shapes
of Slack's org-wide apps reference (api.slack.com/enterprise/apps/reference) and of Slack's own
Bolt types for them (slackapi/bolt-js src/types/shortcuts/global-shortcut.ts: "team is null for
org apps shortcut payload", with `user.team_id`, `is_enterprise_install` and an `enterprise`
object of `id` and `name`). Events carry `authorizations` ("truncated to one item") with
`enterprise_id`, `team_id` and `is_enterprise_install`, beside the outer `team_id` and
`enterprise_id`.

So a request is placed by the first ID it gives of: its team, the user's team, the
`enterprise`, or (events) `authorizations[0]`; one that names none of them is refused, as before.
What Bolt is passed is rebuilt from these checked fields only (see bot/web/http_guard.py
`_event` and bot/web/guard_views.py for why).
"""

from __future__ import annotations

from typing import Any

from bot.slack.ids import ANY_ID, ENTERPRISE_ID


def _id(value: object) -> str | None:
    return value if isinstance(value, str) and ANY_ID.fullmatch(value) else None


def _object_id(value: object) -> str | None:
    return _id(value.get("id")) if isinstance(value, dict) else None


def _org(value: object) -> str | None:
    found = _id(value)
    return found if found is not None and ENTERPRISE_ID.fullmatch(found) else None


def _flag(value: object) -> bool:
    # Slack sends it as a JSON boolean; a slash command's form carries the text "true".
    return value is True or value == "true"


def payload_scope(payload: dict[str, Any], user_id: str) -> dict[str, Any] | None:
    """`user`, `team`, `enterprise` and `is_enterprise_install` of an interactivity payload, as
    Bolt will get them; None when the payload places itself nowhere."""
    user = payload.get("user")
    user_team = _id(user.get("team_id")) if isinstance(user, dict) else None
    team = _object_id(payload.get("team"))
    enterprise = _object_id(payload.get("enterprise"))
    if enterprise is not None and not ENTERPRISE_ID.fullmatch(enterprise):
        return None
    where = team or user_team
    if where is None and enterprise is None:
        return None
    scope: dict[str, Any] = {
        "user": {"id": user_id, "team_id": user_team or where},
        "team": {"id": where} if where is not None else None,
    }
    if enterprise is not None or _flag(payload.get("is_enterprise_install")):
        scope["is_enterprise_install"] = _flag(payload.get("is_enterprise_install"))
        if enterprise is not None:
            scope["enterprise"] = {"id": enterprise}
    return scope


def event_scope(body: dict[str, Any]) -> dict[str, Any] | None:
    """`team_id`, `enterprise_id` and `is_enterprise_install` of an Events API body, as Bolt
    will get them; None when the body places itself nowhere."""
    authorizations = body.get("authorizations")
    first: dict[str, Any] = {}
    if isinstance(authorizations, list) and authorizations and isinstance(authorizations[0], dict):
        first = authorizations[0]
    team = _id(body.get("team_id")) or _id(first.get("team_id"))
    enterprise = _org(body.get("enterprise_id")) or _org(first.get("enterprise_id"))
    if team is None and enterprise is None:
        return None
    scope: dict[str, Any] = {}
    if team is not None:
        scope["team_id"] = team
    if enterprise is not None:
        scope["enterprise_id"] = enterprise
    if _flag(first.get("is_enterprise_install")):
        scope["is_enterprise_install"] = True
    return scope
