"""Is a changed event schema still backward compatible with what was published? (R-EV-1)

`compatible(old, new)` lists the reasons a consumer validating with `new` could refuse an event that was
valid under `old`; an empty list means the change may stay in the same version. It reads the JSON
Schemas `schemas/generate.py` writes (the envelope, with the contract in `properties.data`):

- the envelope (every property but `data`) must not change at all, annotations aside;
- in `data`, and in every object nested in it: no field removed, no new required field (nor an optional
  one made required), no type narrowed or changed (integer -> number widens and is fine, a lost `null`
  branch narrows), no enum value removed, no format, pattern or tighter bound added;
- annotations (title, description, default, examples) may change freely;
- any other keyword that differs is reported too: what the check cannot prove compatible, it refuses.

It is deliberately conservative and pure (no I/O), so tests/unit/test_schema_compat.py can pin it down.
"""

from __future__ import annotations

import json
from typing import Any

Schema = dict[str, Any]

ANNOTATIONS = frozenset(
    {"title", "description", "default", "examples", "$comment", "readOnly", "writeOnly", "deprecated"}
)
ROOT_ONLY = frozenset({"$schema", "$id", "id", "definitions", "$defs"})
SCHEMA_MAPS = frozenset({"properties", "patternProperties", "definitions", "$defs"})
SCHEMA_LISTS = frozenset({"anyOf", "oneOf", "allOf"})
LOWER_BOUNDS = ("minimum", "minLength", "minItems", "minProperties")
UPPER_BOUNDS = ("maximum", "maxLength", "maxItems", "maxProperties")
HANDLED = frozenset(
    {"$ref", "type", "enum", "const", "format", "pattern", "properties", "required", "additionalProperties",
     "items", "uniqueItems", "anyOf", "oneOf", "allOf", *LOWER_BOUNDS, *UPPER_BOUNDS}
)  # fmt: skip


def compatible(old: Schema, new: Schema) -> list[str]:
    """Why `new` may refuse an event valid under `old` (empty: backward compatible)."""
    comparison = _Comparison(old, new)
    old_data, new_data = _data(old), _data(new)
    if old_data is None or new_data is None:  # not an event schema: compare the whole schema as data
        if (old_data is None) != (new_data is None):
            return ["data: the event's `data` is gone" if new_data is None else "envelope: the schema became one"]
        return comparison.compare(old, new, "$", root=True)
    return comparison.envelope(old, new) + comparison.compare(old_data, new_data, "data")


def strip_annotations(schema: Any) -> Any:
    """The schema without the keywords that do not change what it accepts (property names are kept)."""
    if isinstance(schema, list):
        return [strip_annotations(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    stripped = {}
    for key, value in schema.items():
        if key in ANNOTATIONS:
            continue
        if key in SCHEMA_MAPS and isinstance(value, dict):
            stripped[key] = {name: strip_annotations(sub) for name, sub in value.items()}
        elif key == "required" and isinstance(value, list):
            stripped[key] = sorted(value)
        else:
            stripped[key] = strip_annotations(value)
    return stripped


def _data(schema: Schema) -> Schema | None:
    data = schema.get("properties", {}).get("data")
    return data if isinstance(data, dict) else None


def _show(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


class _Comparison:
    def __init__(self, old_root: Schema, new_root: Schema) -> None:
        self.old_root, self.new_root = old_root, new_root
        self._in_progress: set[tuple[str, str]] = set()

    # -- the envelope -----------------------------------------------------------------------------------
    def envelope(self, old: Schema, new: Schema) -> list[str]:
        reasons: list[str] = []
        old_props, new_props = old.get("properties", {}), new.get("properties", {})
        for name in sorted((set(old_props) | set(new_props)) - {"data"}):
            if name not in new_props:
                reasons.append(f"envelope.{name}: removed from the envelope")
            elif name not in old_props:
                reasons.append(f"envelope.{name}: added to the envelope")
            elif strip_annotations(self._resolve(old_props[name], self.old_root)) != strip_annotations(
                self._resolve(new_props[name], self.new_root)
            ):
                reasons.append(
                    f"envelope.{name}: changed from {_show(strip_annotations(old_props[name]))} "
                    f"to {_show(strip_annotations(new_props[name]))}"
                )
        if sorted(old.get("required", [])) != sorted(new.get("required", [])):
            reasons.append(f"envelope: required changed from {old.get('required', [])} to {new.get('required', [])}")
        skip = ANNOTATIONS | ROOT_ONLY | {"properties", "required"}
        for key in sorted((set(old) | set(new)) - skip):
            if strip_annotations(old.get(key)) != strip_annotations(new.get(key)):
                reasons.append(f"envelope: '{key}' changed from {_show(old.get(key))} to {_show(new.get(key))}")
        return reasons

    # -- any subschema ------------------------------------------------------------------------------------
    def compare(self, old: Schema, new: Schema, path: str, *, root: bool = False) -> list[str]:
        key = (_show(old), _show(new))
        if key in self._in_progress:  # a recursive definition, already being compared further up
            return []
        self._in_progress.add(key)
        try:
            return self._compare(old, new, path, root=root)
        finally:
            self._in_progress.discard(key)

    def _compare(self, old: Schema, new: Schema, path: str, *, root: bool) -> list[str]:
        old_branches, new_branches = self._branches(old, self.old_root), self._branches(new, self.new_root)
        if len(old_branches) == 1 and len(new_branches) == 1:
            return self._one(old_branches[0], new_branches[0], path, root=root)
        reasons: list[str] = []
        for branch in old_branches:
            attempts = [self._one(branch, candidate, path) for candidate in new_branches]
            if all(attempts):
                if len(new_branches) == 1:
                    reasons += attempts[0]
                else:
                    reasons.append(f"{path}: {self._describe(branch)} no longer accepted")
        return reasons

    def _one(self, old: Schema, new: Schema, path: str, *, root: bool = False) -> list[str]:
        """Reasons for one branch of `old` against one branch of `new` (neither holds anyOf/oneOf)."""
        reasons: list[str] = []
        old_type, new_type = old.get("type"), new.get("type")
        if new_type is not None and old_type != new_type:
            if old_type is None:
                return [f"{path}: now restricted to type {new_type} (any type was accepted)"]
            if not (old_type == "integer" and new_type == "number"):
                return [f"{path}: type {old_type} no longer accepted (now {new_type})"]

        old_enum, new_enum = self._enum(old), self._enum(new)
        if new_enum is not None:
            if old_enum is None:
                reasons.append(f"{path}: now limited to the values {_show(new_enum)}")
            else:
                removed = [value for value in old_enum if value not in new_enum]
                if removed:
                    reasons.append(f"{path}: enum value(s) {_show(removed)} removed")

        for keyword in ("format", "pattern"):
            if keyword in new and old.get(keyword) != new[keyword]:
                was = f"{keyword} {_show(old[keyword])}" if keyword in old else f"no {keyword}"
                reasons.append(f"{path}: {keyword} {_show(new[keyword])} added (was {was})")
        for keyword in LOWER_BOUNDS:
            if keyword in new and (keyword not in old or new[keyword] > old[keyword]):
                reasons.append(f"{path}: {keyword} raised to {new[keyword]} (was {old.get(keyword, 'none')})")
        for keyword in UPPER_BOUNDS:
            if keyword in new and (keyword not in old or new[keyword] < old[keyword]):
                reasons.append(f"{path}: {keyword} lowered to {new[keyword]} (was {old.get(keyword, 'none')})")
        if new.get("uniqueItems") and not old.get("uniqueItems"):
            reasons.append(f"{path}: items must now be unique")

        reasons += self._object(old, new, path)
        if "items" in old or "items" in new:
            old_items, new_items = old.get("items", {}), new.get("items", {})
            if isinstance(old_items, dict) and isinstance(new_items, dict):
                reasons += self.compare(old_items, new_items, f"{path}[]")
            elif old_items != new_items:
                reasons.append(f"{path}: 'items' changed; the check cannot prove that compatible")

        ignored = HANDLED | ANNOTATIONS | (ROOT_ONLY if root else frozenset())
        for keyword in sorted((set(old) | set(new)) - ignored):
            if strip_annotations(old.get(keyword)) != strip_annotations(new.get(keyword)):
                reasons.append(f"{path}: '{keyword}' changed; the check cannot prove that compatible")
        return reasons

    def _object(self, old: Schema, new: Schema, path: str) -> list[str]:
        reasons: list[str] = []
        old_props, new_props = old.get("properties", {}), new.get("properties", {})
        old_required, new_required = set(old.get("required", [])), set(new.get("required", []))
        for name in old_props:
            if name not in new_props:
                was = "required" if name in old_required else "optional"
                reasons.append(f"{path}.{name}: field removed (it was {was}; consumers may rely on it)")
            else:
                reasons += self.compare(old_props[name], new_props[name], f"{path}.{name}")
        for name in sorted(new_required - old_required):
            if name in old_props:
                reasons.append(f"{path}.{name}: was optional, now required (events published without it are refused)")
            else:
                reasons.append(f"{path}.{name}: new required field (events published without it are refused)")
        old_extra, new_extra = old.get("additionalProperties", True), new.get("additionalProperties", True)
        if new_extra is False and old_extra is not False:
            reasons.append(f"{path}: unknown fields are now refused (additionalProperties: false)")
        elif isinstance(old_extra, dict) and isinstance(new_extra, dict):
            reasons += self.compare(old_extra, new_extra, f"{path}.*")
        elif isinstance(new_extra, dict) and old_extra is True:
            reasons.append(f"{path}: additional fields are now constrained")
        return reasons

    # -- helpers ----------------------------------------------------------------------------------------
    def _resolve(self, schema: Schema, root: Schema) -> Schema:
        """Follow `$ref` (local pointers only) and single-element `allOf`, keeping sibling keywords."""
        for _ in range(64):
            if "$ref" in schema:
                ref = schema["$ref"]
                if not ref.startswith("#/"):
                    raise ValueError(f"only local $ref are supported, not {ref}")
                target: Any = root
                for part in ref[2:].split("/"):
                    target = target[part.replace("~1", "/").replace("~0", "~")]
                schema = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
            elif isinstance(schema.get("allOf"), list) and len(schema["allOf"]) == 1:
                schema = {**schema["allOf"][0], **{k: v for k, v in schema.items() if k != "allOf"}}
            else:
                return schema
        raise ValueError("$ref chain too deep")

    def _branches(self, schema: Schema, root: Schema) -> list[Schema]:
        """The alternatives a schema accepts: anyOf/oneOf branches, or one per type of a list of types."""
        schema = self._resolve(schema, root)
        for keyword in ("anyOf", "oneOf"):
            if isinstance(schema.get(keyword), list):
                outer = {k: v for k, v in schema.items() if k != keyword and k not in ANNOTATIONS}
                branches: list[Schema] = []
                for branch in schema[keyword]:
                    branches += self._branches({**outer, **branch}, root)
                return branches
        if isinstance(schema.get("type"), list):
            return [{**schema, "type": kind} for kind in schema["type"]]
        return [schema]

    @staticmethod
    def _enum(schema: Schema) -> list[Any] | None:
        if "const" in schema:
            return [schema["const"]]
        return schema.get("enum")

    @staticmethod
    def _describe(schema: Schema) -> str:
        kind = schema.get("type", "any value")
        return f"{kind} ({schema['format']})" if "format" in schema else str(kind)
