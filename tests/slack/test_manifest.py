"""manifest.yml is a valid Slack app manifest that declares what the bot uses, and
manifest.org.yml is the same app installed org-wide on Enterprise Grid."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from bot.offline.slack_standin import MANIFEST_SCOPES

ROOT = Path(__file__).resolve().parents[2]
# Slack's v1 app-manifest schema, copied into the repository with its MIT notice (LICENSE beside
# it says where from), so that this test runs on every clone.
SCHEMA = ROOT / "tests" / "data" / "slack" / "manifest.schema.1.0.0.json"


@pytest.fixture
def manifest() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "manifest.yml").read_text())
    return loaded


@pytest.fixture
def org_manifest() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "manifest.org.yml").read_text())
    return loaded


@pytest.fixture
def schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SCHEMA.read_text())
    return loaded


def test_manifest_matches_slacks_v1_schema(
    manifest: dict[str, Any], schema: dict[str, Any]
) -> None:
    jsonschema.validate(manifest, schema)


def test_org_manifest_matches_slacks_v1_schema(
    org_manifest: dict[str, Any], schema: dict[str, Any]
) -> None:
    jsonschema.validate(org_manifest, schema)
    # The schema itself holds the setting to a boolean: a typo there fails like Slack would.
    broken = {**org_manifest, "settings": {**org_manifest["settings"], "org_deploy_enabled": "y"}}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)


def test_org_manifest_is_the_same_app_deployed_org_wide(
    manifest: dict[str, Any], org_manifest: dict[str, Any]
) -> None:
    assert manifest["settings"]["org_deploy_enabled"] is False
    assert org_manifest["settings"]["org_deploy_enabled"] is True
    # Nothing else differs: the org-wide app is not a second app to keep in step by hand.
    same = {**org_manifest, "settings": {**org_manifest["settings"], "org_deploy_enabled": False}}
    assert same == manifest


def test_schema_rejects_what_slack_would(manifest: dict[str, Any], schema: dict[str, Any]) -> None:
    """The copied schema is the real one, not a permissive stand-in: Slack's own rules fail."""
    without_name = {**manifest, "display_information": {}}
    unknown_key = {**manifest, "featurez": {}}
    long_command = {
        **manifest,
        "features": {
            **manifest["features"],
            "slash_commands": [
                {**manifest["features"]["slash_commands"][0], "command": "/" + "x" * 40}
            ],
        },
    }
    for broken in (without_name, unknown_key, long_command):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(broken, schema)


def test_schema_copy_carries_slacks_mit_notice() -> None:
    notice = (SCHEMA.parent / "LICENSE").read_text()
    assert "MIT License" in notice
    assert "Copyright (c) Slack Technologies, LLC" in notice
    assert "github.com/slackapi/manifest-schema" in notice


def test_manifest_declares_command_interactivity_and_scopes(manifest: dict[str, Any]) -> None:
    (command,) = manifest["features"]["slash_commands"]
    assert command["command"] == "/chime"
    assert command["description"] and command["usage_hint"]
    assert command["url"].endswith("/slack/events")
    assert manifest["settings"]["interactivity"]["is_enabled"] is True
    assert manifest["settings"]["interactivity"]["request_url"].endswith("/slack/events")
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    assert {"commands", "chat:write", "chat:write.public", "im:write"} <= scopes


def test_the_manifests_ask_for_the_people_scopes_and_user_change() -> None:
    """Issue 21: who is who (users.info, users.lookupByEmail) and the event for changes."""
    for name in ("manifest.yml", "manifest.org.yml"):
        manifest = yaml.safe_load((ROOT / name).read_text())
        scopes = manifest["oauth_config"]["scopes"]["bot"]
        assert {"users:read", "users:read.email"} <= set(scopes), name
        assert "user_change" in manifest["settings"]["event_subscriptions"]["bot_events"], name
        # The stand-in's token has exactly the scopes the app asks for.
        assert tuple(scopes) == MANIFEST_SCOPES, name
