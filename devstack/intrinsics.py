"""CloudFormation intrinsic functions, resolved locally for what devstack provisions and runs.

The values of resources only exist once they are created (a KMS key id is minted by the emulator),
so resource references go through two callbacks that the provisioner answers; parameters, pseudo
parameters, conditions and mappings are resolved here. `references()` gives the dependency edges the
provisioner orders resources by.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from typing import Any

from devstack.template import PARTITION, URL_SUFFIX, Stack


class Unresolvable(RuntimeError):
    """An intrinsic that cannot be resolved locally (e.g. `Fn::ImportValue` of another stack)."""


class _NoValue:
    """`AWS::NoValue`: removes the property (or list item) that holds it."""

    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE = _NoValue()
_SUB_VARIABLE = re.compile(r"\$\{([^}]+)\}")


class Resolver:
    """Resolves intrinsics against one stack; `ref(logical_id)` and `get_att(logical_id, attribute)`
    answer for resources."""

    def __init__(self, stack: Stack, ref: Callable[[str], Any], get_att: Callable[[str, str], Any]) -> None:
        self.stack = stack
        self._ref = ref
        self._get_att = get_att
        self._conditions: dict[str, bool] = {}

    @property
    def pseudo(self) -> dict[str, Any]:
        stack = self.stack
        return {
            "AWS::Region": stack.region,
            "AWS::AccountId": stack.account_id,
            "AWS::Partition": PARTITION,
            "AWS::URLSuffix": URL_SUFFIX,
            "AWS::StackName": stack.stack_name,
            "AWS::StackId": f"arn:{PARTITION}:cloudformation:{stack.region}:{stack.account_id}:stack/"
            f"{stack.stack_name}/00000000-0000-0000-0000-000000000000",
            "AWS::NotificationARNs": [],
            "AWS::NoValue": NO_VALUE,
        }

    def resolve(self, value: Any) -> Any:
        """`value` with every intrinsic replaced by its value and `AWS::NoValue` entries removed."""
        if isinstance(value, list):
            items = (self.resolve(item) for item in value)
            return [item for item in items if item is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, argument),) = value.items()
            if key == "Ref":
                return self.ref(argument)
            if key == "Condition" and isinstance(argument, str):
                return self.condition(argument)
            handler = _FUNCTIONS.get(key)
            if handler is not None:
                return handler(self, argument)
        resolved = {key: self.resolve(item) for key, item in value.items()}
        return {key: item for key, item in resolved.items() if item is not NO_VALUE}

    def ref(self, name: str) -> Any:
        if name in self.stack.parameters:
            return self.stack.parameters[name]
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.stack.resources:
            return self._ref(name)
        raise Unresolvable(f"Ref to unknown name {name!r}")

    def get_att(self, name: str, attribute: str) -> Any:
        if name not in self.stack.resources:
            raise Unresolvable(f"Fn::GetAtt of unknown resource {name!r}")
        return self._get_att(name, attribute)

    def condition(self, name: str) -> bool:
        """The value of a named condition (evaluated once)."""
        if name not in self._conditions:
            if name not in self.stack.conditions:
                raise Unresolvable(f"unknown condition {name!r}")
            self._conditions[name] = bool(self.resolve(self.stack.conditions[name]))
        return self._conditions[name]

    def sub(self, argument: Any) -> str:
        text, variables = (argument, {}) if isinstance(argument, str) else (argument[0], argument[1])
        variables = {key: self.resolve(item) for key, item in variables.items()}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                value = variables[name]
            elif "." in name and name.split(".", 1)[0] in self.stack.resources:
                resource, attribute = name.split(".", 1)
                value = self.get_att(resource, attribute)
            else:
                value = self.ref(name)
            return ",".join(map(str, value)) if isinstance(value, list) else _text(value)

        return _SUB_VARIABLE.sub(replace, text)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _get_att(resolver: Resolver, argument: Any) -> Any:
    if isinstance(argument, str):
        name, attribute = argument.split(".", 1)
    else:
        name, attribute = argument[0], resolver.resolve(argument[1])
    return resolver.get_att(name, attribute)


def _join(resolver: Resolver, argument: Any) -> str:
    delimiter, items = argument
    values = resolver.resolve(items)
    return str(delimiter).join(_text(v) for v in values)


def _select(resolver: Resolver, argument: Any) -> Any:
    index, items = resolver.resolve(argument[0]), resolver.resolve(argument[1])
    return items[int(index)]


def _split(resolver: Resolver, argument: Any) -> list[str]:
    delimiter, text = argument
    return str(resolver.resolve(text)).split(delimiter)


def _if(resolver: Resolver, argument: Any) -> Any:
    name, when_true, when_false = argument
    return resolver.resolve(when_true if resolver.condition(name) else when_false)


def _equals(resolver: Resolver, argument: Any) -> bool:
    left, right = (resolver.resolve(item) for item in argument)
    return _text(left) == _text(right)


def _find_in_map(resolver: Resolver, argument: Any) -> Any:
    name, top, second = (resolver.resolve(item) for item in argument[:3])
    try:
        return resolver.stack.mappings[name][top][second]
    except KeyError:
        raise Unresolvable(f"Fn::FindInMap {name}/{top}/{second} is not in Mappings") from None


def _import_value(resolver: Resolver, argument: Any) -> Any:
    raise Unresolvable(f"Fn::ImportValue {resolver.resolve(argument)!r}: other stacks do not exist locally")


_FUNCTIONS: dict[str, Callable[[Resolver, Any], Any]] = {
    "Fn::GetAtt": _get_att,
    "Fn::Sub": lambda r, a: r.sub(a),
    "Fn::Join": _join,
    "Fn::Select": _select,
    "Fn::Split": _split,
    "Fn::If": _if,
    "Fn::Equals": _equals,
    "Fn::And": lambda r, a: all(bool(r.resolve(item)) for item in a),
    "Fn::Or": lambda r, a: any(bool(r.resolve(item)) for item in a),
    "Fn::Not": lambda r, a: not bool(r.resolve(a[0])),
    "Fn::FindInMap": _find_in_map,
    "Fn::Base64": lambda r, a: base64.b64encode(str(r.resolve(a)).encode()).decode(),
    "Fn::GetAZs": lambda r, a: [f"{r.stack.region}{zone}" for zone in "abc"],
    "Fn::ImportValue": _import_value,
    "Fn::ToJsonString": lambda r, a: json.dumps(r.resolve(a), separators=(",", ":")),
    "Fn::Length": lambda r, a: len(r.resolve(a)),
}


def references(value: Any, resources: set[str] | dict[str, Any]) -> set[str]:
    """Logical ids of the resources `value` refers to (Ref, Fn::GetAtt, Fn::Sub variables)."""
    found: set[str] = set()

    def walk(item: Any) -> None:
        if isinstance(item, list):
            for element in item:
                walk(element)
            return
        if not isinstance(item, dict):
            return
        for key, argument in item.items():
            if key == "Ref" and isinstance(argument, str):
                found.add(argument)
            elif key == "Fn::GetAtt":
                found.add(argument.split(".", 1)[0] if isinstance(argument, str) else argument[0])
            elif key == "Fn::Sub":
                text, variables = (argument, {}) if isinstance(argument, str) else (argument[0], argument[1])
                for name in _SUB_VARIABLE.findall(text):
                    if not name.startswith("!") and name not in variables:
                        found.add(name.split(".", 1)[0])
                walk(variables)
            else:
                walk(argument)

    walk(value)
    return {name for name in found if name in resources}
