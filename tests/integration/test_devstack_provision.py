"""devstack provisions template.yaml on a fresh emulator: what the stack needs exists, named stably,
and every type it does not create is reported with a reason."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import boto3
import pytest

from devstack import provision, template
from devstack.workers import functions_from

ROOT = Path(__file__).resolve().parents[2]

FIXTURE = textwrap.dedent(
    """
    AWSTemplateFormatVersion: "2010-09-09"
    Parameters:
      Stage: {Type: String, Default: local}
    Conditions:
      IsProd: !Equals [!Ref Stage, prod]
    Resources:
      Bus:
        Type: AWS::Events::EventBus
        Properties: {Name: !Sub "fixture-${Stage}"}
      ConsumerDlq:
        Type: AWS::SQS::Queue
      ConsumerQueue:
        Type: AWS::SQS::Queue
        Properties:
          VisibilityTimeout: 30
          RedrivePolicy:
            deadLetterTargetArn: !GetAtt ConsumerDlq.Arn
            maxReceiveCount: 3
      ConsumerRule:
        Type: AWS::Events::Rule
        Properties:
          EventBusName: !Ref Bus
          EventPattern: {source: [ates.tasks], detail-type: [TaskAssigned]}
          Targets:
            - {Id: queue, Arn: !GetAtt ConsumerQueue.Arn}
      ProdOnlyQueue:
        Type: AWS::SQS::Queue
        Condition: IsProd
      Machine:
        Type: AWS::StepFunctions::StateMachine
        Properties: {DefinitionString: "{}"}
    """
)


def aws(service: str, endpoint: str):
    return boto3.client(
        service, endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="t", aws_secret_access_key="t"
    )


@pytest.fixture(scope="module")
def provisioned(fresh_emulator) -> provision.Provisioned:
    return provision.provision(template.load(ROOT / "template.yaml", {"Stage": "local"}), fresh_emulator)


def test_tables_with_keys_indexes_stream_and_ttl(provisioned, fresh_emulator):
    dynamodb = aws("dynamodb", fresh_emulator)
    table = dynamodb.describe_table(TableName="ates-local-AuthTable")["Table"]
    assert [k["AttributeName"] for k in table["KeySchema"]] == ["pk", "sk"]
    assert "gsi1" in [i["IndexName"] for i in table["GlobalSecondaryIndexes"]]
    assert table["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}
    ttl = dynamodb.describe_time_to_live(TableName="ates-local-AuthTable")["TimeToLiveDescription"]
    assert ttl["TimeToLiveStatus"] == "ENABLED" and ttl["AttributeName"] == "expires_at"
    assert provisioned.ttl_attributes["ates-local-AuthTable"] == "expires_at"  # remembered for the sweeper
    mapping = provisioned.properties("AuthOutboxRelayFunctionOutbox")
    assert mapping["EventSourceArn"] == table["LatestStreamArn"]


def test_the_signing_key_and_its_alias(provisioned, fresh_emulator):
    kms = aws("kms", fresh_emulator)
    key_id = provisioned.resolver.ref("SigningKey")
    metadata = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    assert metadata["KeySpec"] == "RSA_2048" and metadata["KeyUsage"] == "SIGN_VERIFY"
    aliases = {a["AliasName"]: a.get("TargetKeyId") for a in kms.list_aliases()["Aliases"]}
    assert aliases["alias/ates-local-token-signing"] == key_id


def test_bus_sender_identity_log_groups_and_bucket(provisioned, fresh_emulator):
    assert aws("events", fresh_emulator).describe_event_bus(Name="ates-local")["Name"] == "ates-local"
    identities = aws("ses", fresh_emulator).list_identities()["Identities"]
    assert "payroll@ates.example.com" in identities  # moto sends only from verified identities
    groups = {g["logGroupName"]: g for g in aws("logs", fresh_emulator).describe_log_groups()["logGroups"]}
    assert groups["/aws/lambda/ates-local-AuthApiFunction"]["retentionInDays"] == 30
    bucket = provisioned.resolver.ref("WebBucket")
    assert aws("s3", fresh_emulator).get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"


def test_unsupported_types_are_reported_with_a_reason(provisioned):
    reasons = {s.type: s.reason for s in provisioned.skipped}
    assert "EventSchemas is not in moto" in reasons["AWS::EventSchemas::Schema"]
    assert "IAM" in reasons["AWS::IAM::Role"]
    assert "gateway" in reasons["AWS::CloudFront::Distribution"]
    run_by_devstack = set(provision.RUN_BY_DEVSTACK)
    assert {"AWS::Lambda::Function", "AWS::CloudFront::ResponseHeadersPolicy"} <= run_by_devstack
    assert not run_by_devstack & set(reasons)  # those run in devstack itself: not "skipped"
    accounted = set(provisioned.created) | {s.logical_id for s in provisioned.skipped} | provisioned.conditional_off
    for logical_id, resource in provisioned.stack.resources.items():
        assert logical_id in accounted or resource["Type"] in run_by_devstack, logical_id


def test_only_the_functions_requests_wait_on_keep_devstacks_cpu_priority(provisioned):
    specs = functions_from(provisioned)
    serving = {logical_id for logical_id, spec in specs.items() if spec.serves_requests}
    # every API's integration and the token authorizer invoked before each of them
    assert serving == {"AuthorizerFunction"} | {
        logical_id for logical_id in specs if logical_id.endswith("ApiFunction")
    }
    for background in ("TasksOutboxRelayFunction", "AccountingOnTaskEventFunction", "AccountingCloseJobFunction"):
        assert not specs[background].serves_requests


def test_functions_get_their_resolved_environment(provisioned):
    specs = functions_from(provisioned)
    api = specs["AuthApiFunction"]
    assert api.name == "ates-local-AuthApiFunction" and api.handler == "auth.api.lambda_handler"
    translated = provisioned.stack.resources["AuthApiFunction"]["Properties"]  # Globals merged in by SAM
    assert api.timeout == translated["Timeout"] and api.memory_mb == translated["MemorySize"]
    # Lambda's layout: its own package (/var/task), then the runtime layer (/opt/python), nothing else
    packages = ROOT / "functions" / "packages"
    assert api.code_dir == packages / "auth" and api.layer_dirs == (packages / "runtime",)
    env = api.environment
    assert env["SIGNING_KEY_ID"] == provisioned.resolver.ref("SigningKey")
    assert env["AUTH_TABLE_NAME"] == "ates-local-AuthTable" and env["EVENT_BUS_NAME"] == "ates-local"
    assert env["TOKEN_ISSUER"] == "urn:ates:local:auth" and env["PREVIOUS_SIGNING_KEY_IDS"] == ""
    assert env["TOKEN_TTL_SECONDS"] == str(provisioned.stack.parameters["TokenTtlSeconds"])
    bootstrap = provisioned.stack.resources["AuthBootstrapAdminFunction"]["Properties"]["Timeout"]
    assert specs["AuthBootstrapAdminFunction"].timeout == bootstrap != translated["Timeout"]  # its own Timeout


@pytest.fixture(scope="module")
def fixture_stack(tmp_path_factory) -> template.Stack:
    root = tmp_path_factory.mktemp("provision")
    (root / "template.yaml").write_text(FIXTURE)
    return template.load(root / "template.yaml", stack_name="fixture")


def test_queues_redrive_and_rules_deliver_to_sqs(fixture_stack, fresh_emulator):
    result = provision.provision(fixture_stack, fresh_emulator)
    sqs = aws("sqs", fresh_emulator)
    queue_url = result.resolver.ref("ConsumerQueue")
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])["Attributes"]
    redrive = json.loads(attributes["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"] == result.resolver.get_att("ConsumerDlq", "Arn")
    assert int(redrive["maxReceiveCount"]) == 3 and attributes["VisibilityTimeout"] == "30"
    aws("events", fresh_emulator).put_events(
        Entries=[
            {
                "EventBusName": "fixture-local",
                "Source": "ates.tasks",
                "DetailType": "TaskAssigned",
                "Detail": json.dumps({"event_id": "e1"}),
            }
        ]
    )
    messages = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=2).get("Messages", [])
    assert len(messages) == 1 and json.loads(messages[0]["Body"])["detail"] == {"event_id": "e1"}
    assert result.queue_targets[result.resolver.get_att("ConsumerQueue", "Arn")][0]["rule"] == "ConsumerRule"
    skipped = {s.logical_id: s.reason for s in result.skipped}
    assert skipped["Machine"] == provision.UNSUPPORTED  # unknown types are reported, not ignored
    assert "ProdOnlyQueue" in result.conditional_off and "ProdOnlyQueue" not in result.created
    names = [u.rsplit("/", 1)[-1] for u in sqs.list_queues()["QueueUrls"]]
    assert "fixture-ConsumerQueue" in names and not any("ProdOnly" in n for n in names)


def test_provisioning_again_on_the_same_emulator_reuses_what_is_there(provisioned, fresh_emulator):
    again = provision.provision(provisioned.stack, fresh_emulator)
    assert again.resolver.ref("SigningKey") == provisioned.resolver.ref("SigningKey")
    assert again.resolver.get_att("AuthTable", "StreamArn") == provisioned.resolver.get_att("AuthTable", "StreamArn")


SES_FIXTURE = textwrap.dedent(
    """
    AWSTemplateFormatVersion: "2010-09-09"
    Transform: AWS::Serverless-2016-10-31
    Parameters:
      Stage: {Type: String, Default: local}
    Resources:
      PayoutEmailTemplate:
        Type: AWS::SES::Template
        Properties:
          Template:
            TemplateName: !Sub ates-${Stage}-payout
            SubjectPart: "Your aTES payout for {{day}}: {{amount}}"
            TextPart: "Hello {{name}},\\n{{#each transactions}}{{when}} {{amount}}\\n{{/each}}"
            HtmlPart: "<p>Hello {{name}}</p>"
      UnnamedTemplate:
        Type: AWS::SES::Template
        Properties:
          Template: {SubjectPart: "Hi {{name}}", TextPart: "Hi"}
      PayoutFunction:
        Type: AWS::Serverless::Function
        Properties:
          Runtime: python3.12
          CodeUri: fns/
          Handler: payout.handler
          Environment:
            Variables:
              PAYOUT_TEMPLATE: !Ref PayoutEmailTemplate
              UNNAMED_TEMPLATE: !Ref UnnamedTemplate
    """
)


def _load(tmp_path, text: str, stage: str = "local") -> template.Stack:
    (tmp_path / "template.yaml").write_text(text)
    return template.load(tmp_path / "template.yaml", {"Stage": stage}, stack_name=f"ses-{stage}")


def test_ses_templates_are_created_and_ref_gives_their_name(tmp_path, fresh_emulator):
    stack = _load(tmp_path, SES_FIXTURE, stage="tpl")
    result = provision.provision(stack, fresh_emulator)
    ses = aws("ses", fresh_emulator)
    payout = ses.get_template(TemplateName="ates-tpl-payout")["Template"]
    assert payout["SubjectPart"] == "Your aTES payout for {{day}}: {{amount}}"
    assert payout["TextPart"] == "Hello {{name}},\n{{#each transactions}}{{when}} {{amount}}\n{{/each}}"
    assert payout["HtmlPart"] == "<p>Hello {{name}}</p>"
    assert result.created["PayoutEmailTemplate"] == "AWS::SES::Template"
    env = functions_from(result)["PayoutFunction"].environment  # what the function sees, as in CloudFormation
    assert env["PAYOUT_TEMPLATE"] == "ates-tpl-payout" == result.resolver.get_att("PayoutEmailTemplate", "Id")
    assert env["UNNAMED_TEMPLATE"] == "ses-tpl-UnnamedTemplate"  # a stable name when the template gives none
    assert ses.get_template(TemplateName="ses-tpl-UnnamedTemplate")["Template"]["SubjectPart"] == "Hi {{name}}"

    # provisioning again (an --endpoint emulator that outlived devstack) updates the template in place
    provision.provision(_load(tmp_path, SES_FIXTURE.replace("Your aTES payout", "Payout"), stage="tpl"), fresh_emulator)
    assert ses.get_template(TemplateName="ates-tpl-payout")["Template"]["SubjectPart"].startswith("Payout for")


@pytest.mark.parametrize(
    ("properties", "named"),
    [
        ("{Template: {TemplateName: t-typo, SubjectPart: s, HTMLPart: h}}", "Template.HTMLPart"),
        ("{Template: {TemplateName: t-extra, SubjectPart: s}, Tags: [{Key: k, Value: v}]}", "Tags"),
    ],
)
def test_an_unsupported_ses_template_property_is_reported_not_ignored(tmp_path, fresh_emulator, properties, named):
    text = "Parameters: {Stage: {Type: String}}\n"
    text += f"Resources:\n  Mail: {{Type: AWS::SES::Template, Properties: {properties}}}\n"
    with pytest.raises(provision.ProvisionError, match=rf"Mail \(AWS::SES::Template\).*unsupported property {named}"):
        provision.provision(_load(tmp_path, text), fresh_emulator)
