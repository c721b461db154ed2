"""devstack reads template.yaml through aws-sam-translator and resolves CloudFormation intrinsics."""

from __future__ import annotations

from pathlib import Path

import pytest

from devstack import template
from devstack.intrinsics import NO_VALUE, Resolver, Unresolvable, references

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def stack() -> template.Stack:
    return template.load(ROOT / "template.yaml", {"Stage": "local"})


def fake_stack(**changes) -> template.Stack:
    base = {
        "root": ROOT,
        "stack_name": "ates-local",
        "region": "us-east-1",
        "account_id": "123456789012",
        "parameters": {"Stage": "local", "Keys": ["k1", "k2"], "Empty": [""]},
        "resources": {"Table": {"Type": "AWS::DynamoDB::Table"}, "Fn": {"Type": "AWS::Lambda::Function"}},
        "conditions": {
            "IsLocal": {"Fn::Equals": [{"Ref": "Stage"}, "local"]},
            "IsProd": {"Fn::Equals": ["a", "b"]},
            "Both": {"Fn::And": [{"Condition": "IsLocal"}, {"Fn::Not": [{"Condition": "IsProd"}]}]},
        },
        "mappings": {"Sizes": {"local": {"Memory": 256}}},
    }
    return template.Stack(**{**base, **changes})


def resolver(stack: template.Stack) -> Resolver:
    return Resolver(stack, ref=lambda name: f"ref-of-{name}", get_att=lambda name, attr: f"{name}.{attr}-value")


def test_the_template_translates_into_plain_cloudformation(stack):
    types = {r["Type"] for r in stack.resources.values()}
    assert "AWS::Serverless::Function" not in types and "AWS::Serverless::Api" not in types
    assert {"AWS::Lambda::Function", "AWS::ApiGateway::RestApi", "AWS::Lambda::EventSourceMapping"} <= types
    assert stack.parameters["Stage"] == "local"
    assert stack.parameters["PreviousSigningKeyIds"] == [""]  # a CommaDelimitedList is a list
    packages = ROOT / "functions" / "packages"
    assert stack.code_dirs["AuthApiFunction"] == packages / "auth"  # the local CodeUri is remembered
    assert stack.code_dirs["AuthOutboxRelayFunction"] == packages / "kernel"  # the Globals' CodeUri
    assert list(stack.layer_dirs.values()) == [packages / "runtime"]  # and a layer's local ContentUri


def test_the_translated_functions_carry_the_globals(stack):
    variables = stack.resources["AuthApiFunction"]["Properties"]["Environment"]["Variables"]
    assert variables["POWERTOOLS_METRICS_NAMESPACE"] == "aTES"  # from Globals
    assert "AUTH_TABLE_NAME" in variables  # from the function itself
    assert stack.resources["AuthApiFunction"]["Properties"]["Timeout"] == 10


def test_the_fast_yaml_parser_reads_what_samtranslators_reads():
    from samtranslator.yaml_helper import yaml_parse

    text = (ROOT / "template.yaml").read_text()
    assert template.parse_yaml(text) == yaml_parse(text)


def test_parameter_overrides_are_checked():
    with pytest.raises(template.TemplateError, match="not one of"):
        template.load(ROOT / "template.yaml", {"Stage": "qa"})
    with pytest.raises(template.TemplateError, match="unknown template parameter"):
        template.load(ROOT / "template.yaml", {"Nope": "x"})


def test_ref_and_pseudo_parameters():
    r = resolver(fake_stack())
    assert r.resolve({"Ref": "Stage"}) == "local"
    assert r.resolve({"Ref": "Table"}) == "ref-of-Table"
    assert r.resolve({"Ref": "AWS::Region"}) == "us-east-1"
    assert r.resolve({"Ref": "AWS::AccountId"}) == "123456789012"
    assert r.resolve({"Ref": "AWS::Partition"}) == "aws"
    assert r.resolve({"Ref": "AWS::URLSuffix"}) == "amazonaws.com"
    assert r.resolve({"Ref": "AWS::StackName"}) == "ates-local"
    with pytest.raises(Unresolvable):
        r.resolve({"Ref": "Missing"})


def test_sub_getatt_join_select_split():
    r = resolver(fake_stack())
    assert r.resolve({"Fn::Sub": "ates-${Stage}-${Table}-${Fn.Arn}-${AWS::Region}-${!Literal}"}) == (
        "ates-local-ref-of-Table-Fn.Arn-value-us-east-1-${Literal}"
    )
    assert r.resolve({"Fn::Sub": ["${Name}/x", {"Name": {"Ref": "Stage"}}]}) == "local/x"
    assert r.resolve({"Fn::GetAtt": ["Table", "StreamArn"]}) == "Table.StreamArn-value"
    assert r.resolve({"Fn::GetAtt": "Table.Arn"}) == "Table.Arn-value"
    assert r.resolve({"Fn::Join": [",", {"Ref": "Keys"}]}) == "k1,k2"
    assert r.resolve({"Fn::Join": [",", {"Ref": "Empty"}]}) == ""
    assert r.resolve({"Fn::Select": [1, {"Ref": "Keys"}]}) == "k2"
    assert r.resolve({"Fn::Select": ["0", {"Fn::Split": ["/", "a/b"]}]}) == "a"
    assert r.resolve({"Fn::FindInMap": ["Sizes", {"Ref": "Stage"}, "Memory"]}) == 256


def test_conditions_if_and_no_value():
    r = resolver(fake_stack())
    assert r.condition("IsLocal") is True and r.condition("IsProd") is False and r.condition("Both") is True
    assert r.resolve({"Fn::If": ["IsLocal", "yes", "no"]}) == "yes"
    assert r.resolve({"Fn::If": ["IsProd", "yes", "no"]}) == "no"
    resolved = r.resolve({"A": {"Fn::If": ["IsProd", 1, {"Ref": "AWS::NoValue"}]}, "B": [1, {"Ref": "AWS::NoValue"}]})
    assert resolved == {"B": [1]}
    assert NO_VALUE not in resolved.values()


def test_references_find_dependencies_for_ordering():
    value = {"A": {"Ref": "Table"}, "B": {"Fn::Sub": "${Fn.Arn}/${Stage}/${!Table}"}, "C": {"Ref": "AWS::Region"}}
    assert references(value, {"Table": 1, "Fn": 1}) == {"Table", "Fn"}
