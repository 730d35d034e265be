"""Slack's IDs, one pattern each: every check of an ID (settings, the policy file, the door,
mentions on cards, group detection) uses these.

An ID is an uppercase letter naming its kind (C/G/D conversations, U/W users, S user groups,
T teams, E enterprises) followed by uppercase letters and digits. Slack documents no maximum
length; 32 in all bounds what the door accepts anywhere, so a configured ID is held to it too.
Anchored with `\\Z`, not `$`, which would also take a trailing newline.
"""

from __future__ import annotations

import re

ANY_ID = re.compile(r"^[A-Z0-9]{1,32}\Z")  # team, enterprise, user or group, at the door
CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{2,31}\Z")
USER_ID = re.compile(r"^[UW][A-Z0-9]{2,31}\Z")
GROUP_ID = re.compile(r"^S[A-Z0-9]{2,31}\Z")  # a user group (usergroups.users.list)
# CHIME_APPROVERS and the policy file's approvers take user IDs and user-group IDs, mixed.
APPROVER_ID = re.compile(r"^[UWS][A-Z0-9]{2,31}\Z")
