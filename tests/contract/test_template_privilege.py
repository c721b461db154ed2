"""R-SEC-6, least privilege, in the template: only the auth API's role may use the signing key, and only to sign;
mail goes only from the sender identity (and the payout template); no function may change a bucket's lifecycle;
the authorizer reads accounts without Scan; tables resist deletion in prod. And checkov finds nothing we have not
accepted with a reason (tests/contract/accepted_findings.yaml)."""

from __future__ import annotations

import pytest
import yaml

from tests.contract import cfn, checkov_findings

# SAM policy templates that carry s3:PutLifecycleConfiguration (SAM's policy_templates.json).
LIFECYCLE_TEMPLATES = {"S3CrudPolicy", "S3WritePolicy", "S3FullAccessPolicy"}


@pytest.fixture(scope="module")
def resources() -> dict:
    return cfn.resources()


def functions(resources: dict) -> dict[str, dict]:
    return {n: r["Properties"] for n, r in resources.items() if r["Type"] == "AWS::Serverless::Function"}


def statements(function: dict) -> list[dict]:
    return [s for policy in function.get("Policies", []) if "Statement" in policy for s in policy["Statement"]]


def actions(statement: dict) -> list[str]:
    return statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]


def test_r_sec_6_only_the_auth_apis_role_signs_with_the_key_and_only_signs(resources):
    key_policy = resources["SigningKey"]["Properties"]["KeyPolicy"]["Statement"]
    signers = [s for s in key_policy if any(a in ("kms:*", "kms:Sign", "kms:Sign*") for a in actions(s))]
    assert signers == [
        {"Sid": "OnlyTheAuthApiSigns", "Effect": "Allow", "Principal": {"AWS": {"!GetAtt": "AuthApiFunctionRole.Arn"}},
         "Action": "kms:Sign", "Resource": "*"}
    ]  # fmt: skip
    account = next(s for s in key_policy if s["Sid"] == "AccountAdministers")
    assert not any(a.startswith(("kms:Sign", "kms:Verify", "kms:Encrypt", "kms:Decrypt")) for a in actions(account))


def test_r_sec_6_mail_is_sent_only_from_the_sender_identity(resources):
    senders = {
        name: s for name, f in functions(resources).items() for s in statements(f)
        if any(a.startswith("ses:Send") for a in actions(s))
    }  # fmt: skip
    assert set(senders) == {"AuthMailerFunction", "AccountingPayoutMailerFunction"}
    assert not any("SESCrudPolicy" in p for f in functions(resources).values() for p in f.get("Policies", []))
    identity = "arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:identity/${SesSender}"
    for statement in senders.values():
        scope = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        assert {"!Sub": identity} in scope and "*" not in scope
    payout = senders["AccountingPayoutMailerFunction"]["Resource"]
    assert {"!Sub": identity.replace("identity/${SesSender}", "template/${PayoutEmailTemplate}")} in payout


def test_r_sec_6_no_function_may_change_a_buckets_lifecycle(resources):
    for name, function in functions(resources).items():
        used = {key for policy in function.get("Policies", []) if isinstance(policy, dict) for key in policy}
        assert not used & LIFECYCLE_TEMPLATES, name
        assert not any("Lifecycle" in a or a in ("s3:*", "*") for s in statements(function) for a in actions(s)), name


def test_r_sec_6_the_authorizer_reads_accounts_without_scan(resources):
    authorizer = functions(resources)["AuthorizerFunction"]
    assert all(isinstance(p, dict) and set(p) == {"Statement"} for p in authorizer["Policies"])  # no templates
    dynamodb = {a for s in statements(authorizer) for a in actions(s) if a.startswith("dynamodb:")}
    assert dynamodb == {"dynamodb:GetItem", "dynamodb:Query"}


def test_r_sec_6_tables_have_deletion_protection_in_prod(resources):
    tables = {n: r["Properties"] for n, r in resources.items() if r["Type"] == "AWS::DynamoDB::Table"}
    assert len(tables) == 5  # auth, staff, tasks, accounting, analytics (saved metrics)
    for name, table in tables.items():
        assert table["DeletionProtectionEnabled"] == {"!If": ["IsProd", True, False]}, name
        assert table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True, name


def test_r_sec_6_checkov_finds_nothing_that_is_not_accepted_with_a_reason():
    if not checkov_findings.CHECKOV.exists():
        pytest.fail("checkov missing: `make test` installs it into .tools/checkov")
    accepted = yaml.safe_load(checkov_findings.ACCEPTED.read_text())
    assert all(entry["reason"].strip() for entry in accepted)
    found = checkov_findings.findings()
    assert len(found) > 50  # checkov ran and looked (every function has accepted findings)
    assert checkov_findings.unaccepted(found, accepted) == ([], [])


def test_a_new_finding_or_a_stale_acceptance_is_named():
    accepted = [{"check": "CKV_AWS_117", "resources": ["AWS::Serverless::Function.*"], "reason": "no VPC"},
                {"check": "CKV_AWS_21", "resources": ["AWS::S3::Bucket.Gone"], "reason": "was there"}]  # fmt: skip
    found = {("CKV_AWS_117", "AWS::Serverless::Function.Api"), ("CKV_AWS_18", "AWS::S3::Bucket.Web")}
    assert checkov_findings.unaccepted(found, accepted) == (
        ["CKV_AWS_18 AWS::S3::Bucket.Web"],
        ["CKV_AWS_21 ['AWS::S3::Bucket.Gone']"],
    )
