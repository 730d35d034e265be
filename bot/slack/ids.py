"""Slack's IDs, one pattern each: every check of an ID (settings, the policy file, the door,
mentions on cards, group detection) uses these.

An ID is an uppercase letter naming its kind (C/G/D conversations, U/W users, S user groups,
T teams, E enterprises) followed by uppercase letters and digits. Slack documents no maximum
length; 32 in all bounds what the door accepts anywhere, so a configured ID is held to it too.
Anchored with `\\Z`, not `$`, which would also take a trailing newline.

On Enterprise Grid an ID is scoped to the organization (`E…`) or to one of its workspaces
(`T…`): user IDs (`W…` for org-wide users) and channel IDs are the same in every workspace of
the org, so the user and channel patterns hold there unchanged; only calls that act on one
workspace with an org-wide token need a `T…`/`E…` named (bot/slack/grid.py).
"""

from __future__ import annotations

import re

ANY_ID = re.compile(r"^[A-Z0-9]{1,32}\Z")  # team, enterprise, user or group, at the door
CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{2,31}\Z")
USER_ID = re.compile(r"^[UW][A-Z0-9]{2,31}\Z")
GROUP_ID = re.compile(r"^S[A-Z0-9]{2,31}\Z")  # a user group (usergroups.users.list)
# CHIME_APPROVERS and the policy file's approvers take user IDs and user-group IDs, mixed.
APPROVER_ID = re.compile(r"^[UWS][A-Z0-9]{2,31}\Z")
WORKSPACE_ID = re.compile(r"^T[A-Z0-9]{2,31}\Z")  # a workspace (team)
ENTERPRISE_ID = re.compile(r"^E[A-Z0-9]{2,31}\Z")  # an Enterprise Grid organization
# Where something lives on Enterprise Grid: one workspace of the org, or the org itself.
TEAM_OR_ORG_ID = re.compile(r"^[TE][A-Z0-9]{2,31}\Z")
