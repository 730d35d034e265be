"""deploy/chime-bot.yaml against what the bot needs: the table `init-store` would make, secrets
only through ECS `secrets`, /metrics kept off the load balancer, every checkov skip with its
reason. (cfn-lint and checkov themselves run in `make deploy-lint`.)"""

from __future__ import annotations

import re
from typing import Any

import boto3
from moto import mock_aws

from bot.store.admin import init_table
from bot.store.items import INDEX, TTL_ATTRIBUTE
from tests.deploy.template import container, resource, template

SECRET_NAMES = {"SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN"}


def _by_name(items: list[dict[str, Any]], key: str) -> dict[str, Any]:
    return {item[key]: item for item in items}


def test_the_table_is_the_one_init_store_makes_and_production_ready() -> None:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="eu-west-1")
        init_table("chime-made-by-init", client=client)
        made = client.describe_table(TableName="chime-made-by-init")["Table"]
        ttl = client.describe_time_to_live(TableName="chime-made-by-init")
    props = resource("Table")["Properties"]

    def keys(schema: list[dict[str, str]]) -> list[tuple[str, str]]:
        return [(k["AttributeName"], k["KeyType"]) for k in schema]

    assert keys(props["KeySchema"]) == keys(made["KeySchema"])
    assert sorted(
        (a["AttributeName"], a["AttributeType"]) for a in props["AttributeDefinitions"]
    ) == sorted((a["AttributeName"], a["AttributeType"]) for a in made["AttributeDefinitions"])
    (index,) = props["GlobalSecondaryIndexes"]
    (made_index,) = made["GlobalSecondaryIndexes"]
    assert index["IndexName"] == made_index["IndexName"] == INDEX
    assert keys(index["KeySchema"]) == keys(made_index["KeySchema"])
    assert index["Projection"] == {"ProjectionType": made_index["Projection"]["ProjectionType"]}
    assert props["TimeToLiveSpecification"] == {"AttributeName": TTL_ATTRIBUTE, "Enabled": True}
    assert ttl["TimeToLiveDescription"]["AttributeName"] == TTL_ATTRIBUTE
    # What init-store does not set, and a production table needs:
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["DeletionProtectionEnabled"] is True
    assert props["SSESpecification"]["SSEEnabled"] is True
    assert resource("Table")["DeletionPolicy"] == "Retain"


def test_secrets_come_only_from_secrets_manager_through_ecs_secrets() -> None:
    bot = container()
    environment = {e["Name"] for e in bot["Environment"]}
    assert not environment & SECRET_NAMES
    assert not [n for n in environment if re.search("TOKEN|SECRET|PASSWORD", n)]
    secrets = []
    for entry in bot["Secrets"]:
        if "Fn::If" in entry:
            entry = entry["Fn::If"][1]
        secrets.append(entry)
    assert {s["Name"] for s in secrets} == SECRET_NAMES
    params = template()["Parameters"]
    for entry in secrets:
        source = entry["ValueFrom"]["Ref"]
        assert "secretsmanager" in params[source]["AllowedPattern"], source
    # No parameter could carry a secret's value: those named like one take a Secrets Manager
    # (or KMS) ARN and nothing else.
    for name, param in params.items():
        if re.search("Token|Secret", name):
            assert re.match(r"\^\(?arn:aws", param["AllowedPattern"]), name


def test_metrics_stay_off_the_load_balancer() -> None:
    env = _by_name(container()["Environment"], "Name")
    port, metrics = env["PORT"]["Value"], env["METRICS_PORT"]["Value"]
    assert port != metrics
    assert [m["ContainerPort"] for m in container()["PortMappings"]] == [int(port)]
    assert resource("TargetGroup")["Properties"]["Port"] == int(port)
    for name in ("LoadBalancerToTasks", "TasksFromLoadBalancer"):
        props = resource(name)["Properties"]
        assert props["FromPort"] == props["ToPort"] == int(port)
    listener = resource("HttpsListener")["Properties"]
    assert listener["Protocol"] == "HTTPS"
    assert listener["DefaultActions"][0]["Type"] == "fixed-response"
    (path, method) = resource("SlackEventsRule")["Properties"]["Conditions"]
    assert path["PathPatternConfig"]["Values"] == ["/slack/events"]
    assert method["HttpRequestMethodConfig"]["Values"] == ["POST"]
    health = resource("TargetGroup")["Properties"]
    assert health["HealthCheckPath"] == "/readyz"


def test_socket_mode_is_the_default_and_needs_no_load_balancer() -> None:
    params = template()["Parameters"]
    assert params["Mode"]["Default"] == "socket"
    assert params["DesiredCount"]["Default"] == 2
    conditional = {n for n, r in template()["Resources"].items() if r.get("Condition") == "IsHttp"}
    assert {"LoadBalancer", "TargetGroup", "HttpsListener", "SlackEventsRule"} <= conditional


def test_every_skipped_checkov_rule_says_why() -> None:
    skipped = 0
    for name, body in template()["Resources"].items():
        for skip in body.get("Metadata", {}).get("checkov", {}).get("skip", []):
            skipped += 1
            assert re.fullmatch(r"CKV2?_AWS_\d+", skip["id"]), name
            assert len(skip.get("comment", "").split()) >= 8, f"{name} {skip['id']}: why?"
    assert skipped


def test_every_alarm_notifies_the_topic_parameter() -> None:
    alarms = {
        n: r["Properties"]
        for n, r in template()["Resources"].items()
        if r["Type"] == "AWS::CloudWatch::Alarm"
    }
    assert len(alarms) == 5
    for name, props in alarms.items():
        assert props["AlarmActions"] == [{"Ref": "AlarmTopicArn"}], name
        assert props["OKActions"] == [{"Ref": "AlarmTopicArn"}], name
        assert "docs/operations.md" in props["AlarmDescription"], name
