"""moto's parsing of DynamoDB condition expressions, done once per expression text, and its validation of
update expressions without rebuilding the same lookup at every node. Applied by ``moto_patches.apply()``,
in the emulator process only.

Why (cProfile of the shuffle's transaction, 24 conditional updates and one put): moto lexes every
ConditionExpression from scratch, one regular expression after another per token, and checks each path
element against DynamoDB's reserved words by a linear search of a list of 573; that was a third of a
transaction's time. A lexed expression is a tuple of immutable tokens that depends on the text alone (names
and values are substituted later, per request), so it is kept per text; the reserved words become a set.
What the parser then does with the tokens, and every error it raises, is moto's own.

Lexing once still left the parse itself: resolving names, functions, comparators and booleans into moto's
condition tree, twice per conditional write (the handler validates the names and values used, then the
model parses again to evaluate). A profile of a 45-put transaction put 47% of its time there. The tree
depends only on the text, the names and the values, and moto's nodes hold no state between evaluations,
so a tree is kept per (text, names, values). Most of a system's conditions carry no value that changes
(`attribute_not_exists(pk)`, a day's calendar check), so they are parsed once; one that names a revision
misses and is parsed as before. A condition that fails to parse is not kept: its error is raised afresh.

Each UpdateExpression is then checked by ten AST walkers, and each asks at every node which node classes
it processes, building that tuple from a new dict each time (a tenth of a transaction's time); the classes
are fixed per walker class, so the tuple is built once per class.

The walkers themselves asked, at every node of every walk, `isinstance` against moto's node classes, which
are abstract base classes (a Python-level check each time): 3.8 million checks for 2,000 five-SET updates,
a third of an update's time, and two walkers search each node's subtree again for clauses (quadratic in the
tree). Which walker function handles a node depends on the walker's class and the node's class alone, so it
is looked up once per pair and the walk dispatches on `type(node)`; the clause search skips the same checks.
The walk, its order, the hooks it calls and every replacement and error are moto's.

Most updates the functions write are plain `SET name = :value, #n = :value` (a status, a timestamp, an
index key), some with a `REMOVE name, #n` (a completed task leaves an index). For those, the walkers only
look values and names up and check a few rules, and the executor assigns each value to (or removes) a
top-level attribute, yet the copy and the ten walks were still most of an update (a fifth of the emulator's
GIL under bench.load). When every rule those walkers check is known to pass (each value and name given, no
attribute twice, no table key, no declared attribute given another type, no index key given an empty
string, no reserved word unaliased, at most one clause of each kind), the update assigns and removes
directly, in the expression's order, as moto's executor would, through the same size-checked item;
anything else, errors included, goes through moto's validator as before.

Before the walkers, moto's validator deep-copies the expression's tree (the walkers replace its nodes, and
the parsed tree is kept per text, moto_patches): `copy.deepcopy` walks it node by node in Python, and under
bench.load it was a sixth of the emulator's samples (py-spy). The tree is plain objects over strings and
numbers, so it is pickled once and each copy is one `pickle.loads` (C): the same objects, 0.18 ms against
0.9 ms for the completion's 42-node update.
"""

from __future__ import annotations

import contextlib
import functools
import json
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Any

MAX_EXPRESSIONS = 4096  # distinct condition texts kept: a system has a few dozen
MAX_TREES = 4096  # parsed conditions kept, with their names and values (oldest dropped first)


def apply() -> None:
    _lex_each_condition_once()
    _parse_each_condition_once()
    _node_classes_once_per_walker()
    _walk_by_node_type()
    _copy_update_trees_as_trees()
    _apply_plain_updates_directly()


MAX_TREES_KEPT = 4096  # what is kept per update tree (one per expression text; moto_patches keeps as many parsed)
_pickled: dict[int, tuple[Any, bytes | None]] = {}  # id(tree) -> (the tree, so the id stays its own; its pickle)


@functools.cache
def _reserved_words() -> frozenset[str]:
    """DynamoDB's reserved words as a set (moto keeps a list of 573 and searches it)."""
    from moto.dynamodb.parsing.reserved_keywords import ReservedKeywords

    return frozenset(ReservedKeywords.get_reserved_keywords())


def per_tree(kept: dict[int, tuple[Any, Any]], tree: Any, make: Callable[[Any], Any]) -> Any:
    """`make(tree)`, made once per kept update tree: by id, with the tree held so its id stays its own."""
    found = kept.get(id(tree))
    if found is None or found[0] is not tree:
        if len(kept) >= MAX_TREES_KEPT:
            kept.clear()
        found = kept[id(tree)] = (tree, make(tree))
    return found[1]


def _pickle(tree: Any) -> bytes | None:
    import pickle

    try:
        return pickle.dumps(tree, protocol=pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, TypeError, AttributeError):
        return None


def copy_tree(tree: Any) -> Any:
    """A deep copy of a kept expression tree: its pickle, made once, loaded again (what `copy.deepcopy`
    makes of it, five times faster for the completion's update). Anything that does not pickle is copied
    by `copy.deepcopy`, as moto did."""
    import copy
    import pickle

    pickled = per_tree(_pickled, tree, _pickle)
    if pickled is None:
        return copy.deepcopy(tree)
    return pickle.loads(pickled)  # noqa: S301 - bytes this process pickled from its own tree


def _copy_update_trees_as_trees() -> None:
    from moto.dynamodb.parsing import validators

    if getattr(validators.deepcopy, "devstack_tree_copy", False):
        return
    copy_tree.devstack_tree_copy = True  # type: ignore[attr-defined]
    validators.deepcopy = copy_tree  # the validator's only use of it: `deepcopy(expression)`


def _node_classes_once_per_walker() -> None:
    from moto.dynamodb.parsing.ast_nodes import DepthFirstTraverser

    if getattr(DepthFirstTraverser.nodes_to_be_processed, "devstack_cached", False):
        return
    classes_of: dict[type, tuple[type, ...]] = {}

    def nodes_to_be_processed(self: Any) -> tuple[type, ...]:
        walker = type(self)
        if walker not in classes_of:
            classes_of[walker] = tuple(self._processing_map().keys())
        return classes_of[walker]

    nodes_to_be_processed.devstack_cached = True  # type: ignore[attr-defined]
    DepthFirstTraverser.nodes_to_be_processed = nodes_to_be_processed  # type: ignore[method-assign]


def _walk_by_node_type() -> None:
    """moto 5.2.5's `DepthFirstTraverser.traverse_node_recursively` and `Node.find_clauses`, with each
    `isinstance` against a node class answered once per class (`issubclass` is what `isinstance` asks of an
    ABC, registered subclasses included) and each walker's handler for a node class looked up once: the first
    class of its processing map the node is an instance of, as `process` takes it."""
    from moto.dynamodb.parsing.ast_nodes import DepthFirstTraverser, Expression, Node, UpdateExpressionFunction

    if getattr(DepthFirstTraverser.traverse_node_recursively, "devstack_by_type", False):
        return
    is_node: dict[type, bool] = {}
    has_clauses: dict[type, bool] = {}  # find_clauses descends into Expressions and UpdateExpressionFunctions
    handler_at: dict[tuple[type, type], int | None] = {}  # (walker class, node class) -> index in its map
    plain_hook = DepthFirstTraverser.pre_processing_of_child

    def handler(walker: Any, kind: type) -> Any:
        handlers = walker.__dict__.get("_devstack_handlers")
        if handlers is None:  # bound to this walker: its map is built once per walk, not once per node
            handlers = walker.__dict__["_devstack_handlers"] = list(walker._processing_map().items())
        key = (type(walker), kind)
        if key not in handler_at:
            handler_at[key] = next((i for i, (cls, _) in enumerate(handlers) if issubclass(kind, cls)), None)
        index = handler_at[key]
        return None if index is None else handlers[index][1]

    def traverse_node_recursively(self: Any, node: Any, child_id: int = -1) -> Any:
        kind = type(node)
        known = is_node.get(kind)
        if known is None:
            known = is_node[kind] = issubclass(kind, Node)
        if known:
            parent_node = node.parent
            if node.children is not None:
                hooked = type(self).pre_processing_of_child is not plain_hook
                for i, child_node in enumerate(node.children):
                    if hooked:
                        self.pre_processing_of_child(node, i)
                    self.traverse_node_recursively(child_node, i)
            process = handler(self, kind)
            if process is not None:
                node = process(node)
                node.parent = parent_node
                if parent_node:
                    parent_node.children[child_id] = node
        return node

    def find_clauses(self: Any, clause_types: Any) -> list[Any]:
        clauses = []
        for child in self.children or []:
            kind = type(child)
            if kind in clause_types:
                clauses.append(child)
                continue
            descends = has_clauses.get(kind)
            if descends is None:
                descends = has_clauses[kind] = issubclass(kind, (Expression, UpdateExpressionFunction))
            if descends:
                clauses.extend(child.find_clauses(clause_types))
        return clauses

    traverse_node_recursively.devstack_by_type = True  # type: ignore[attr-defined]
    traverse_node_recursively.__wrapped__ = DepthFirstTraverser.traverse_node_recursively  # type: ignore[attr-defined]
    find_clauses.__wrapped__ = Node.find_clauses  # type: ignore[attr-defined]
    DepthFirstTraverser.traverse_node_recursively = traverse_node_recursively  # type: ignore[method-assign]
    Node.find_clauses = find_clauses  # type: ignore[method-assign]


_shapes: dict[int, tuple[Any, list[tuple[str, str, bool, str | None]] | None]] = {}  # id(tree) -> (tree, actions)


def plain_actions(tree: Any) -> list[tuple[str, str, bool, str | None]] | None:
    """The actions of an update tree made of at most one clause each of SET `path = :value`, REMOVE `path` and
    ADD `path :value`, each path a top-level attribute: (the clause, the path's token, whether it is a `#name`,
    the value's `:name` or None), in the expression's order; None for any other tree."""
    return per_tree(_shapes, tree, _plain_actions)  # type: ignore[no-any-return]


def _plain_actions(tree: Any) -> list[tuple[str, str, bool, str | None]] | None:
    from moto.dynamodb.parsing import ast_nodes as ast

    def only(node: Any, kind: type) -> Any:  # the single child of `node`, if it is exactly a `kind`
        children = node.children or []
        return children[0] if len(children) == 1 and type(children[0]) is kind else None

    def top_level(path: Any) -> tuple[str, bool] | None:  # a path of one attribute: its token, and if a #name
        if type(path) is not ast.UpdateExpressionPath:
            return None
        target = only(path, ast.ExpressionAttribute) or only(path, ast.ExpressionAttributeName)
        if target is None or len(target.children) != 1:
            return None
        return target.children[0], type(target) is ast.ExpressionAttributeName

    def each(clause: Any, actions_kind: type, action_kind: type) -> list[Any]:  # its actions' parts, or []
        actions, found = only(clause, actions_kind), []
        while actions is not None:
            children = actions.children or []
            rest = children[1:]
            if not children or type(children[0]) is not action_kind or len(rest) > 1:
                return []
            if rest and type(rest[0]) is not actions_kind:
                return []
            found.append(children[0].children or [])
            actions = rest[0] if rest else None
        return found

    def path_and_value(kind: str, parts: list[Any]) -> tuple[Any, str | None] | None:  # the value's `:name`
        if kind == "REMOVE":
            return (parts[0], None) if len(parts) == 1 else None
        if len(parts) != 2:
            return None
        value = parts[1]
        if kind == "SET":  # `path = :value`: the value is an UpdateExpressionValue of one operand
            value = only(value, ast.ExpressionAttributeValue) if type(value) is ast.UpdateExpressionValue else None
        if type(value) is not ast.ExpressionAttributeValue or len(value.children) != 1:
            return None
        return parts[0], value.children[0]

    clauses = {  # clause -> (its name, its actions' classes)
        ast.UpdateExpressionSetClause: ("SET", ast.UpdateExpressionSetActions, ast.UpdateExpressionSetAction),
        ast.UpdateExpressionAddClause: ("ADD", ast.UpdateExpressionAddActions, ast.UpdateExpressionAddAction),
        ast.UpdateExpressionRemoveClause: (
            "REMOVE",
            ast.UpdateExpressionRemoveActions,
            ast.UpdateExpressionRemoveAction,
        ),
    }
    found: list[tuple[str, str, bool, str | None]] = []
    seen, node = set(), tree
    while node is not None:  # UpdateExpression(clause[, UpdateExpression(clause...)])
        children = (node.children or []) if type(node) is ast.UpdateExpression else []
        if not children or len(children) > 2 or type(children[0]) not in clauses or type(children[0]) in seen:
            return None  # (two clauses of a kind: moto's TooManyClauses)
        seen.add(type(children[0]))
        kind, actions_kind, action_kind = clauses[type(children[0])]
        for parts in each(children[0], actions_kind, action_kind) or [[]]:
            plain = path_and_value(kind, parts)
            target = top_level(plain[0]) if plain else None
            if target is None:
                return None
            found.append((kind, *target, plain[1]))  # type: ignore[index]
        node = children[1] if len(children) == 2 else None
    return found


class _PlainUpdate:
    """What the validator hands on for a plain update whose checks all pass (`validate` and `normalize` as
    moto's tree has them): per action, its clause, the attribute and the value, in the expression's order."""

    def __init__(self, assignments: list[tuple[str, str, Any, str, bool]]) -> None:
        self.assignments = assignments  # (clause, attribute, value, the path's token, whether a #name)

    def validate(self) -> _PlainUpdate:
        return self

    def normalize(self) -> None:
        pass


class _ApplyingPlainUpdate:
    """The executor of `_PlainUpdate`: what moto's SetExecutor and RemoveExecutor do for a top-level path, and
    moto's AddExecutor itself (numbers, sets and their errors)."""

    def __init__(self, update: _PlainUpdate, item: Any, names: dict[str, str] | None) -> None:
        self.update, self.item, self.names = update, item, names

    def execute(self) -> None:
        from moto.dynamodb.parsing import ast_nodes as ast
        from moto.dynamodb.parsing.executors import AddExecutor

        for kind, name, value, token, is_name in self.update.assignments:  # item.attrs checks the size, as in moto
            if kind == "SET":
                self.item.attrs[name] = value
            elif kind == "REMOVE":
                self.item.attrs.pop(name, None)
            else:  # the validated action moto's executor gets: the path as written, the value typed
                target = ast.ExpressionAttributeName(token) if is_name else ast.ExpressionAttribute(token)
                path = ast.UpdateExpressionPath(children=[target])
                action = ast.UpdateExpressionAddAction(children=[path, ast.DDBTypedValue(value)])
                AddExecutor(action, self.names).execute(self.item)


def passing_assignments(tree: Any, names: dict[str, str] | None, values: dict[str, Any] | None, table: Any) -> Any:
    """The assignments of a plain SET, REMOVE and ADD update whose every check in moto's validator passes, or
    None: the update then goes through moto's validator, which raises what it raises."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    shape = plain_actions(tree)
    if shape is None:
        return None
    assignments: list[tuple[str, str, Any, str, bool]] = []
    seen = set()
    for kind, token, is_name, value_name in shape:
        if (value_name is not None and value_name not in (values or {})) or (is_name and token not in (names or {})):
            return None  # moto: ExpressionAttributeValueNotDefined, or the name's KeyError
        if not is_name and token.upper() in _reserved_words():
            return None  # moto: AttributeIsReservedKeyword
        name = names[token] if is_name else token  # type: ignore[index]
        if name in seen or name in table.table_key_attrs:
            return None  # moto: DuplicateUpdateExpression, UpdateHashRangeKeyException
        seen.add(name)
        typed = DynamoType(values[value_name]) if value_name is not None else None  # type: ignore[index]
        if kind == "SET":
            # moto's type and empty-key checks compare the path's token as written (a `#name` unresolved)
            if any(d["AttributeName"] == token and d["AttributeType"] != typed.type for d in table.attr):  # type: ignore[union-attr]
                return None  # moto: InvalidAttributeTypeError
            if not typed.value and typed.type in ("S", "B") and token in table.attribute_keys:  # type: ignore[union-attr]
                return None  # moto: EmptyKeyAttributeException
        assignments.append((kind, name, typed, token, is_name))  # the value moto's validator makes for the action
    return assignments


def _apply_plain_updates_directly() -> None:
    """moto 5.2.5's `update_item` builds `UpdateExpressionValidator(tree, expression_attribute_names=...,
    expression_attribute_values=..., item=..., table=...)` (twice for a new item), then `.validate()`,
    `.normalize()`, and `UpdateExpressionExecutor(validated, item, names).execute()`: both names, in its
    module, are given a plain update's assignments when they pass, moto's classes otherwise."""
    from moto.dynamodb import models

    if getattr(models.UpdateExpressionValidator, "devstack_plain_updates", False):
        return
    validator_class, executor_class = models.UpdateExpressionValidator, models.UpdateExpressionExecutor

    def validator(
        expression: Any, expression_attribute_names: Any, expression_attribute_values: Any, item: Any, table: Any
    ) -> Any:
        assignments = passing_assignments(expression, expression_attribute_names, expression_attribute_values, table)
        if assignments is not None:
            return _PlainUpdate(assignments)
        return validator_class(
            expression,
            expression_attribute_names=expression_attribute_names,
            expression_attribute_values=expression_attribute_values,
            item=item,
            table=table,
        )

    def executor(update_ast: Any, item: Any, expression_attribute_names: Any) -> Any:
        if isinstance(update_ast, _PlainUpdate):
            return _ApplyingPlainUpdate(update_ast, item, expression_attribute_names)
        return executor_class(update_ast, item, expression_attribute_names)

    validator.devstack_plain_updates = True  # type: ignore[attr-defined]
    validator.__wrapped__ = validator_class  # type: ignore[attr-defined]
    executor.__wrapped__ = executor_class  # type: ignore[attr-defined]
    models.UpdateExpressionValidator = validator
    models.UpdateExpressionExecutor = executor


def _lex_each_condition_once() -> None:
    from moto.dynamodb.comparisons import ConditionExpressionParser

    if getattr(ConditionExpressionParser._lex_condition_expression, "devstack_cached", False):
        return
    lex = ConditionExpressionParser._lex_condition_expression

    @functools.lru_cache(maxsize=MAX_EXPRESSIONS)
    def lexed(expression: str) -> tuple[Any, ...]:
        parser = ConditionExpressionParser.__new__(ConditionExpressionParser)
        parser.condition_expression = expression
        return tuple(lex(parser))

    @functools.wraps(lex)
    def lex_once(self: Any) -> deque[Any]:
        return deque(lexed(self.condition_expression))  # the parser consumes its deque: a new one each time

    lex_once.devstack_cached = True  # type: ignore[attr-defined]
    ConditionExpressionParser._lex_condition_expression = lex_once  # type: ignore[method-assign]

    @classmethod  # type: ignore[misc]
    def raise_exception_if_keyword(cls: Any, attribute: str) -> None:
        if attribute.upper() in _reserved_words():
            from moto.dynamodb.exceptions import ConditionAttributeIsReservedKeyword

            raise ConditionAttributeIsReservedKeyword(attribute)

    ConditionExpressionParser.raise_exception_if_keyword = raise_exception_if_keyword  # type: ignore[assignment]


def _parse_each_condition_once() -> None:
    from moto.dynamodb.comparisons import ConditionExpressionParser

    if getattr(ConditionExpressionParser.parse, "devstack_cached", False):
        return
    parse = ConditionExpressionParser.parse
    trees: OrderedDict[tuple[str, str, str], tuple[Any, list[str], list[str]]] = OrderedDict()

    def key_of(parser: Any) -> tuple[str, str, str] | None:
        try:
            names = json.dumps(parser.expression_attribute_names, sort_keys=True)
            values = json.dumps(parser.expression_attribute_values, sort_keys=True)
        except (TypeError, ValueError):
            return None  # something JSON cannot say (never from the wire): parse it every time
        return parser.condition_expression, names, values

    @functools.wraps(parse)
    def parse_once(self: Any) -> Any:
        key = key_of(self) if self.condition_expression else None
        if key is None:
            return parse(self)
        kept = trees.get(key)
        if kept is None:
            tree = parse(self)  # errors propagate and nothing is kept
            kept = (tree, list(self.expr_attr_names_found), list(self.expr_attr_values_found))
            trees[key] = kept
            if len(trees) > MAX_TREES:
                with contextlib.suppress(KeyError):  # another request thread dropped it first
                    trees.popitem(last=False)  # the oldest: a rolling revision's trees are used once
            return tree
        tree, names_found, values_found = kept
        self.expr_attr_names_found.extend(names_found)  # what the handler checks for unused names and values
        self.expr_attr_values_found.extend(values_found)
        return tree

    parse_once.devstack_cached = True  # type: ignore[attr-defined]
    ConditionExpressionParser.parse = parse_once  # type: ignore[method-assign]
