"""Our cfn-lint rules (tests/contract/cfnlint_rules, loaded through .cfnlintrc) find what they are for: a template
that breaks each invariant of R-SEC-4 and R-SEC-6 fails with that rule's id; template.yaml passes them
(test_template.py::test_cfn_lint_passes)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

CARELESS = textwrap.dedent(
    """
    AWSTemplateFormatVersion: "2010-09-09"
    Transform: AWS::Serverless-2016-10-31
    Resources:
      Table:
        Type: AWS::DynamoDB::Table
        Properties:
          BillingMode: PAY_PER_REQUEST
          AttributeDefinitions: [{AttributeName: pk, AttributeType: S}]
          KeySchema: [{AttributeName: pk, KeyType: HASH}]
          StreamSpecification: {StreamViewType: NEW_IMAGE}
      Queue:
        Type: AWS::SQS::Queue
      Relay:
        Type: AWS::Serverless::Function
        Properties:
          Runtime: python3.12
          Handler: relay.handler
          InlineCode: "def handler(event, context): pass"
          Events:
            Stream:
              Type: DynamoDB
              Properties:
                Stream: !GetAtt Table.StreamArn
                StartingPosition: TRIM_HORIZON
                MaximumRetryAttempts: -1
            Nightly:
              Type: ScheduleV2
              Properties:
                ScheduleExpression: rate(1 day)
      Rule:
        Type: AWS::Events::Rule
        Properties:
          EventPattern: {source: [ates.tasks]}
          Targets: [{Id: queue, Arn: !GetAtt Queue.Arn}]
      Alarm:
        Type: AWS::CloudWatch::Alarm
        Properties:
          Namespace: AWS/SQS
          MetricName: ApproximateNumberOfMessagesVisible
          Dimensions: [{Name: QueueName, Value: !GetAtt Queue.QueueName}]
          Statistic: Maximum
          Period: 60
          EvaluationPeriods: 1
          Threshold: 0
          ComparisonOperator: GreaterThanThreshold
    """
)


def test_r_sec_4_and_6_each_invariant_is_enforced_by_its_rule(tmp_path):
    template = tmp_path / "careless.yaml"
    template.write_text(CARELESS)
    result = subprocess.run(
        [str(Path(sys.executable).parent / "cfn-lint"), "--append-rules", str(ROOT / "tests/contract/cfnlint_rules"),
         "--format", "parseable", str(template)],
        capture_output=True, text=True, cwd=tmp_path,
    )  # fmt: skip
    found = {line.split(":")[5] for line in result.stdout.splitlines() if ":E900" in line}
    assert found == {"E9001", "E9002", "E9003", "E9004"}, result.stdout
    assert "no DestinationConfig.OnFailure" in result.stdout and "set MaximumRetryAttempts" in result.stdout
    assert "target queue has no DeadLetterConfig" in result.stdout and "no AlarmActions" in result.stdout
    assert "no point-in-time recovery" in result.stdout and "DeletionProtectionEnabled is not set" in result.stdout
