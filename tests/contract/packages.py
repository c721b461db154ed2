"""What each function of template.yaml ships, read from the template alone: its package (CodeUri, the Globals'
when it names none), its layers (their ContentUri), and the locks `sam build` installs into each. Lambda
lays a function out as its package in /var/task, then its layers' content in /opt/python: `import_path`.
Shared by the package contract test and the benchmarks (bench/packages.py, bench/import_time.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from tests.contract.cfn import ROOT, CfnLoader

LOCK = "requirements.txt"  # what sam build's Python builder installs from a package's or a layer's directory


@dataclass(frozen=True)
class Layer:
    logical_id: str
    content_dir: Path


@dataclass(frozen=True)
class Function:
    logical_id: str
    handler: str
    code_dir: Path
    layers: tuple[Layer, ...]
    # Its environment's literal values (the Globals', then its own); those set by intrinsics are left out.
    literal_environment: tuple[tuple[str, str], ...] = ()

    @property
    def module(self) -> str:
        return self.handler.rsplit(".", 1)[0]

    @property
    def directories(self) -> list[Path]:
        """The import path Lambda gives it: the package, then the layers (a later layer's files overwrite an
        earlier one's in /opt, so it comes first)."""
        return [self.code_dir, *(layer.content_dir for layer in reversed(self.layers))]

    @property
    def locks(self) -> list[Path]:
        """The locks of everything it ships: its package's and its layers' (those that have one)."""
        return [directory / LOCK for directory in self.directories if (directory / LOCK).is_file()]


def import_path(function: Function) -> list[str]:
    return [str(directory) for directory in function.directories]


def _ref(value: object) -> str | None:
    return value.get("!Ref") if isinstance(value, dict) else None


def _variables(props: dict) -> dict[str, str]:
    variables = (props.get("Environment") or {}).get("Variables") or {}
    return {name: str(value) for name, value in variables.items() if isinstance(value, str | int | float)}


def functions(template: Path = ROOT / "template.yaml") -> list[Function]:
    document = yaml.load(template.read_text(), Loader=CfnLoader)
    defaults = (document.get("Globals") or {}).get("Function") or {}
    resources = document["Resources"]
    found = []
    for logical_id, resource in resources.items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        props = resource["Properties"]
        code_uri = props.get("CodeUri", defaults.get("CodeUri"))
        layers = []
        for entry in props.get("Layers", defaults.get("Layers")) or []:
            layer_id = _ref(entry)
            if layer_id is None or resources.get(layer_id, {}).get("Type") != "AWS::Serverless::LayerVersion":
                raise ValueError(f"{logical_id}: layer {entry} is not a LayerVersion of this template")
            layers.append(Layer(layer_id, template.parent / resources[layer_id]["Properties"]["ContentUri"]))
        variables = {**_variables(defaults), **_variables(props)}
        code_dir = template.parent / code_uri
        found.append(Function(logical_id, props["Handler"], code_dir, tuple(layers), tuple(variables.items())))
    return found
