"""manifest.yml is a valid Slack app manifest that declares what the bot uses."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT.parent / "shared" / "slack" / "manifest.schema.1.0.0.json"


@pytest.fixture
def manifest() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "manifest.yml").read_text())
    return loaded


def test_manifest_matches_slacks_v1_schema(manifest: dict[str, Any]) -> None:
    if not SCHEMA.exists():
        pytest.skip(f"Slack's manifest schema is not beside the repo ({SCHEMA})")
    jsonschema.validate(manifest, json.loads(SCHEMA.read_text()))


def test_manifest_declares_command_interactivity_and_scopes(manifest: dict[str, Any]) -> None:
    (command,) = manifest["features"]["slash_commands"]
    assert command["command"] == "/chime"
    assert command["description"] and command["usage_hint"]
    assert command["url"].endswith("/slack/events")
    assert manifest["settings"]["interactivity"]["is_enabled"] is True
    assert manifest["settings"]["interactivity"]["request_url"].endswith("/slack/events")
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])
    assert {"commands", "chat:write", "chat:write.public", "im:write"} <= scopes
