"""template.yaml as the contract tests read it: CloudFormation's short-form tags kept as {"!Tag": value}, so a test
can see what a value refers to (`{"!GetAtt": "Queue.Arn"}`)."""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


class CfnLoader(yaml.SafeLoader):
    pass


def _tagged(loader: CfnLoader, suffix: str, node: yaml.Node) -> dict:
    if isinstance(node, yaml.ScalarNode):
        return {f"!{suffix}": loader.construct_scalar(node)}
    if isinstance(node, yaml.SequenceNode):
        return {f"!{suffix}": loader.construct_sequence(node, deep=True)}
    return {f"!{suffix}": loader.construct_mapping(node, deep=True)}


CfnLoader.add_multi_constructor("!", _tagged)


def resources() -> dict:
    return yaml.load((ROOT / "template.yaml").read_text(), Loader=CfnLoader)["Resources"]
