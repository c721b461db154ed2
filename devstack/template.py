"""Load `template.yaml` and translate it with aws-sam-translator, exactly as `sam deploy` would.

devstack provisions from the TRANSLATED template (plain CloudFormation), so whatever SAM generates
(event source mappings, the RestApi's swagger, rules for schedules, log groups) is what runs locally,
and nothing is listed a second time. Local code paths (a function's `CodeUri`, a layer's `ContentUri`) are not
valid for the translator, which wants S3 locations; they are swapped for a placeholder S3 URI first and
remembered: what runs locally is each function's own package directory on its layers, as Lambda lays them out.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"  # moto's default account: ARNs it mints carry it
PARTITION = "aws"
URL_SUFFIX = "amazonaws.com"
CODE_BUCKET = "devstack-local-code"


class TemplateError(RuntimeError):
    """The template cannot be loaded or translated; the message says what to fix."""


@dataclass(frozen=True)
class Stack:
    """The translated template and the values that were fixed while translating it."""

    root: Path
    stack_name: str
    region: str
    account_id: str
    parameters: dict[str, Any]
    resources: dict[str, dict[str, Any]]
    conditions: dict[str, Any] = field(default_factory=dict)
    mappings: dict[str, Any] = field(default_factory=dict)
    code_dirs: dict[str, Path] = field(default_factory=dict)
    # The translated template's layers (`AWS::Lambda::LayerVersion`, renamed by SAM) -> their local content.
    layer_dirs: dict[str, Path] = field(default_factory=dict)

    def of_type(self, *types: str) -> dict[str, dict[str, Any]]:
        return {name: res for name, res in self.resources.items() if res.get("Type") in types}

    def physical_name(self, logical_id: str) -> str:
        """A stable name for a resource the template leaves unnamed (CloudFormation adds a random suffix)."""
        return f"{self.stack_name}-{logical_id}"


def load(
    path: Path,
    overrides: dict[str, str] | None = None,
    *,
    stack_name: str = "ates-local",
    region: str = REGION,
    local_defaults: dict[str, str] | None = None,
) -> Stack:
    """Parse, translate and return `path` with parameter `overrides` applied (e.g. `{"Stage": "local"}`).

    `local_defaults` apply only to parameters the template declares and `overrides` leave unset (such as
    `WebUrl`, which locally is devstack's own origin).
    """
    path = Path(path).resolve()
    try:
        raw = parse_yaml(path.read_text())
    except OSError as error:
        raise TemplateError(f"cannot read {path}: {error}") from error
    if not isinstance(raw, dict) or "Resources" not in raw:
        raise TemplateError(f"{path} has no Resources section")
    declared = raw.get("Parameters") or {}
    chosen = {k: v for k, v in (local_defaults or {}).items() if k in declared}
    parameters = parameter_values(declared, {**chosen, **(overrides or {})})
    sam = copy.deepcopy(raw)
    code_dirs = _swap_local_code(sam, path.parent)
    translated = translate(sam, parameters, region)
    resources = translated.get("Resources") or {}
    return Stack(
        root=path.parent,
        stack_name=stack_name,
        region=region,
        account_id=ACCOUNT_ID,
        parameters=parameters,
        resources=resources,
        conditions=translated.get("Conditions") or {},
        mappings=translated.get("Mappings") or {},
        code_dirs=code_dirs,
        layer_dirs=_local_layers(resources, path.parent),
    )


def parse_yaml(text: str) -> Any:
    """samtranslator's `yaml_parse` (short-form intrinsics like `!Sub` become `{"Fn::Sub": ...}`), on
    libyaml's loader when present: the pure-Python one takes a second for this template."""
    import yaml
    from samtranslator.yaml_helper import intrinsics_multi_constructor

    class Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
        pass

    Loader.add_multi_constructor("!", intrinsics_multi_constructor)
    return yaml.load(text, Loader=Loader)  # noqa: S506 - a SafeLoader subclass


def translate(sam: dict[str, Any], parameters: dict[str, Any], region: str) -> dict[str, Any]:
    """SAM -> CloudFormation, as `transform()` does, with an explicit region (the translator otherwise asks
    boto3's environment for one) and no managed-policy names (IAM is not enforced locally)."""
    import boto3
    from samtranslator.model.exceptions import InvalidDocumentException
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.arn_generator import ArnGenerator
    from samtranslator.translator.transform import to_py27_compatible_template, undo_mark_unicode_str_in_template
    from samtranslator.translator.translator import Translator

    ArnGenerator.BOTO_SESSION_REGION_NAME = region
    sam_parameters = {k: ",".join(v) if isinstance(v, list) else v for k, v in parameters.items()}
    to_py27_compatible_template(sam, sam_parameters)
    translator = Translator(None, Parser(), boto_session=boto3.session.Session(region_name=region))
    try:
        translated = translator.translate(sam, parameter_values=sam_parameters, get_managed_policy_map=dict)
    except InvalidDocumentException as error:
        causes = "; ".join(str(cause) for cause in error.causes)
        raise TemplateError(f"aws-sam-translator rejected the template: {causes}") from error
    return undo_mark_unicode_str_in_template(translated)


def parameter_values(declared: dict[str, Any], overrides: dict[str, str]) -> dict[str, Any]:
    """Each parameter's value: the override, else its Default. Lists for CommaDelimitedList/List<...>."""
    unknown = sorted(set(overrides) - set(declared))
    if unknown:
        raise TemplateError(f"unknown template parameter(s): {', '.join(unknown)}")
    values: dict[str, Any] = {}
    for name, spec in declared.items():
        if name in overrides:
            value: Any = overrides[name]
        elif "Default" in spec:
            value = spec["Default"]
        else:
            raise TemplateError(f"template parameter {name} has no Default: pass it with --param {name}=VALUE")
        allowed = spec.get("AllowedValues")
        if allowed is not None and str(value) not in {str(a) for a in allowed}:
            raise TemplateError(f"parameter {name}={value!r} is not one of {allowed}")
        kind = str(spec.get("Type", "String"))
        if kind == "CommaDelimitedList" or kind.startswith("List<"):
            values[name] = [part.strip() for part in str(value).split(",")]
        else:
            values[name] = str(value)
    return values


def _swap_local_code(sam: dict[str, Any], root: Path) -> dict[str, Path]:
    """Replace local `CodeUri`s by S3 URIs the translator accepts; return function -> local directory."""
    globals_fn = (sam.get("Globals") or {}).get("Function") or {}
    default_uri = globals_fn.get("CodeUri")
    if isinstance(default_uri, str) and not default_uri.startswith("s3://"):
        globals_fn["CodeUri"] = f"s3://{CODE_BUCKET}/{default_uri.strip('/')}"
    code_dirs: dict[str, Path] = {}
    for name, resource in (sam.get("Resources") or {}).items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        props = resource.setdefault("Properties", {})
        uri = props.get("CodeUri", default_uri)
        if isinstance(uri, str) and not uri.startswith("s3://"):
            code_dirs[name] = (root / uri).resolve()
            if "CodeUri" in props:
                props["CodeUri"] = f"s3://{CODE_BUCKET}/{uri.strip('/')}"
        elif "InlineCode" not in props:
            code_dirs[name] = root
    for resource in (sam.get("Resources") or {}).values():
        props = resource.get("Properties") or {}
        uri = props.get("ContentUri")
        local = isinstance(uri, str) and not uri.startswith("s3://")
        if resource.get("Type") == "AWS::Serverless::LayerVersion" and local:
            props["ContentUri"] = f"s3://{CODE_BUCKET}/{uri.strip('/')}"
    return code_dirs


def _local_layers(resources: dict[str, dict[str, Any]], root: Path) -> dict[str, Path]:
    """Each translated layer whose content is local (swapped above) -> its directory. SAM builds a layer's
    directory into `python/` of the layer, which Lambda extracts to /opt: the directory is /opt/python."""
    layers = {}
    for name, resource in resources.items():
        content = (resource.get("Properties") or {}).get("Content") or {}
        if resource.get("Type") == "AWS::Lambda::LayerVersion" and content.get("S3Bucket") == CODE_BUCKET:
            layers[name] = (root / content["S3Key"]).resolve()
    return layers
