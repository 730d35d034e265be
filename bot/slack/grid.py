"""Enterprise Grid: whether the bot token is an org-wide one, and which team a call names then.

An app installed org-wide (manifest.org.yml, `org_deploy_enabled: true`) holds one token for
every workspace of the organization. Slack's guide to org-wide apps
(api.slack.com/enterprise/apps/changes-apis) says some methods then need a `team_id` naming the
workspace to act on, and that "the team_id is only relevant when using an org-level token. This
field will be ignored if the API call is sent using a workspace-level token." usergroups.users.list
is one: "team_id: encoded team id where the user group exists, required if org token is used"
(docs.slack.dev/reference/methods/usergroups.users.list).

Whether the token is org-wide is learnt from auth.test, which `serve` calls at start-up anyway:
its reference says "when working against a team within an Enterprise Grid, you'll also find their
enterprise_id here", and Slack's published OpenAPI spec of auth.test (slackapi/slack-api-specs)
lists `is_enterprise_install`, the flag oauth.v2.access sets for an org-wide install
(api.slack.com/enterprise/apps/reference). The reference shows no org-wide answer, so both
plausible shapes count: `is_enterprise_install: true`, or a `team_id` that is itself an
organization's `E…` ID, as other apps have met in the field.

A workspace token gets no `team_id` at all (the call is exactly what it was before Grid). An
org-wide one names SLACK_GROUPS_TEAM_ID when it is set (the workspace `T…` where the approver
groups live, or the org `E…` for org-wide groups), else the organization from auth.test: user
groups made at the org level are the ones that span its workspaces. If Slack answers that
the group is elsewhere, the check fails closed and says to set SLACK_GROUPS_TEAM_ID.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.slack.ids import ENTERPRISE_ID, TEAM_OR_ORG_ID


def is_org_token(auth_test: Mapping[str, Any]) -> bool:
    """auth.test's answer says the token is an org-wide install's."""
    if auth_test.get("is_enterprise_install") is True:
        return True
    team = auth_test.get("team_id")
    return isinstance(team, str) and ENTERPRISE_ID.fullmatch(team) is not None


def groups_team(auth_test: Mapping[str, Any], configured: str | None) -> str | None:
    """The `team_id` for usergroups.users.list with this token: None for a workspace token."""
    if not is_org_token(auth_test):
        return None
    if configured:
        return configured
    for name in ("enterprise_id", "team_id"):
        value = auth_test.get(name)
        if isinstance(value, str) and TEAM_OR_ORG_ID.fullmatch(value):
            return value
    return None
