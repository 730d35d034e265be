"""The AWS region, found once by botocore's own chain for every regional client.

Settings (AWS_REGION or AWS_DEFAULT_REGION, from the environment or .env) come first; this is
what botocore decides when they name none: AWS_DEFAULT_REGION in the process environment, then
the `region` of the active profile (AWS_PROFILE) in the AWS config file. Chime is not regional
here: its account API has one global endpoint (bot/chime.py CHIME_REGION).
"""

from __future__ import annotations

import botocore.session


def botocore_region() -> str | None:
    """botocore's answer, or None when nothing names a region. Raises BotoCoreError for a
    broken AWS configuration (a profile that does not exist, a config file that does not
    parse)."""
    region = botocore.session.Session().get_config_variable("region")
    return str(region) if region else None
