"""devstack/moto_expressions.py: a condition expression is lexed once per text, and parses to what moto
parses it to, errors included."""

from __future__ import annotations

import pytest

from devstack import moto_expressions

EXPRESSIONS = [
    "#s = :open AND assignee_id = :old AND (attribute_not_exists(shuffled_by) OR shuffled_by <> :job)",
    "attribute_not_exists(pk)",
    "size(tags) > :n OR begins_with(#n, :prefix)",
    "NOT contains(#l, :v) AND price BETWEEN :low AND :high",
    "amount IN (:a, :b, :c)",
    "a.b[1].c <= :x",
]
NAMES = {"#s": "status", "#n": "name", "#l": "list"}
VALUES = {f":{v}": {"S": "x"} for v in ("open", "old", "job", "n", "prefix", "v", "low", "high", "a", "b", "c", "x")}


def _lex_without_cache(expression: str) -> list:
    from moto.dynamodb.comparisons import ConditionExpressionParser

    parser = ConditionExpressionParser(expression, NAMES, VALUES)
    return list(ConditionExpressionParser._lex_condition_expression.__wrapped__(parser))


@pytest.mark.parametrize("expression", EXPRESSIONS)
def test_lexed_once_per_text_and_the_same_tokens(expression: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.dynamodb.comparisons import ConditionExpressionParser

    moto_expressions.apply()
    first = list(ConditionExpressionParser(expression, NAMES, VALUES)._lex_condition_expression())
    assert first == _lex_without_cache(expression)

    def no_lexing(*args: object) -> None:
        raise AssertionError("lexed again")

    monkeypatch.setattr(ConditionExpressionParser, "_lex_one_node", no_lexing)
    parsed = ConditionExpressionParser(expression, NAMES, VALUES).parse()  # the whole parse, from the cache
    assert list(ConditionExpressionParser(expression, NAMES, VALUES)._lex_condition_expression()) == first
    assert parsed is not None


def test_reserved_words_unaliased_are_still_refused() -> None:
    from moto.dynamodb.comparisons import ConditionExpressionParser
    from moto.dynamodb.exceptions import ConditionAttributeIsReservedKeyword

    moto_expressions.apply()
    with pytest.raises(ConditionAttributeIsReservedKeyword):
        ConditionExpressionParser("status = :open", {}, VALUES).parse()
    assert ConditionExpressionParser("#s = :open", NAMES, VALUES).parse() is not None


def test_an_expression_moto_cannot_lex_fails_every_time() -> None:
    from moto.dynamodb.comparisons import ConditionExpressionParser

    moto_expressions.apply()
    for _ in range(2):
        with pytest.raises(ValueError, match="Cannot parse condition"):
            ConditionExpressionParser("a = :x ; DROP", NAMES, VALUES).parse()


def test_each_update_walker_processes_the_node_classes_moto_names() -> None:
    from moto.dynamodb.parsing import validators
    from moto.dynamodb.parsing.ast_nodes import DepthFirstTraverser

    moto_expressions.apply()
    walkers = [
        w.__new__(w) for w in vars(validators).values() if isinstance(w, type) and issubclass(w, DepthFirstTraverser)
    ]
    walkers = [w for w in walkers if w._processing_map() is not None]  # not the abstract base
    assert len(walkers) >= 8
    for walker in walkers:
        assert walker.nodes_to_be_processed() == tuple(walker._processing_map()) == walker.nodes_to_be_processed()


def test_a_condition_is_parsed_once_per_text_names_and_values_and_judges_the_same() -> None:
    from moto.dynamodb.comparisons import ConditionExpressionParser
    from moto.dynamodb.models.dynamo_type import Item

    moto_expressions.apply()
    expression = "#s = :x AND attribute_not_exists(gone)"
    first = ConditionExpressionParser(expression, NAMES, {":x": {"S": "open"}})
    tree = first.parse()
    again = ConditionExpressionParser(expression, dict(NAMES), {":x": {"S": "open"}})
    assert again.parse() is tree  # kept, not parsed again
    found = (first.expr_attr_names_found, first.expr_attr_values_found)
    assert (again.expr_attr_names_found, again.expr_attr_values_found) == found  # what moto checks for unused ones
    other = ConditionExpressionParser(expression, NAMES, {":x": {"S": "closed"}}).parse()
    assert other is not tree  # another value is another condition
    item = Item({"S": "k"}, None, {"pk": {"S": "k"}, "status": {"S": "open"}})
    assert (tree.expr(item), other.expr(item)) == (True, False)
    assert tree.expr(item)  # a kept tree judges again, unchanged by judging


def test_a_condition_that_fails_to_parse_fails_every_time_and_is_not_kept() -> None:
    from moto.dynamodb.comparisons import ConditionExpressionParser

    moto_expressions.apply()
    for _ in range(2):
        with pytest.raises(KeyError):
            ConditionExpressionParser("#s = :missing", NAMES, VALUES).parse()  # an undeclared value


UPDATES = [
    "SET #s = :done, completed_at = :at, expires_at = :exp, gsi1sk = :sort REMOVE gsi3pk, gsi3sk",
    "SET balance = balance + :amount, tx_count = if_not_exists(tx_count, :zero) + :one",
    "SET tags = list_append(if_not_exists(tags, :empty), :new), a.b[2].c = :x",
    "ADD seen :set, total :n DELETE old_set :gone",
    "REMOVE a[0], b.c SET d = :x - :y",
]


def _shape(node: object, parent: object = None) -> object:
    """A tree as nested (class, attributes) with each node's parent checked to be the node above it."""
    from moto.dynamodb.parsing.ast_nodes import Node

    if isinstance(node, Node):
        assert node.parent is parent or parent is None
        attributes = {k: v for k, v in vars(node).items() if k not in ("children", "parent")}
        return type(node).__name__, repr(attributes), [_shape(child, node) for child in node.children or []]
    return repr(node)


@pytest.mark.parametrize("expression", UPDATES)
def test_an_update_tree_is_copied_as_deepcopy_copies_it_and_the_kept_one_is_untouched(expression: str) -> None:
    import copy

    from moto.dynamodb.parsing import validators
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser

    moto_expressions.apply()
    assert validators.deepcopy is moto_expressions.copy_tree  # what moto's validator copies the tree with
    tree = UpdateExpressionParser.make(expression)
    before = _shape(tree)
    copied = moto_expressions.copy_tree(tree)
    assert _shape(copied) == _shape(copy.deepcopy(tree)) == before
    nodes = [copied]
    while nodes:  # each node of the copy points to its parent in the copy
        node = nodes.pop()
        for child in node.children or []:
            if hasattr(child, "children"):
                assert child.parent is node
                nodes.append(child)
    copied.children.clear()
    assert _shape(tree) == before
    again = moto_expressions.copy_tree(tree)  # from the kept pickle: a new copy each time
    assert again is not copied and _shape(again) == before


# Updates as the functions write them, and the ones moto refuses (each error is one the walk raises or checks).
WALKED = [
    "SET #s = :done, completed_at = :at, expires_at = :exp, gsi1sk = :sort REMOVE gsi3pk, gsi3sk",
    "SET balance = balance + :amount, tx_count = if_not_exists(tx_count, :zero) + :one",
    "SET tags = list_append(if_not_exists(tags, :empty), :new), l[1] = :x, m.#k = :y",
    "SET a = :x ADD n :one, seen :set REMOVE gone DELETE s :gone",
    "REMOVE l[0], m.deep SET d = n - :one",
    "SET a.b = :x",  # a path under a missing attribute
    "SET pk = :x",  # a key attribute
    "SET gsi1pk = :blank",  # an empty string for an index's key
    "SET gsi1sk = :n",  # a number for an index's string key
    "SET #missing = :x",  # a name not given
    "SET a = :missing",  # a value not given
    "SET a = :x, a = :y",  # the same path twice
    "SET m.deep = :x, m = :y",  # overlapping paths
    "SET a = :x SET b = :y",
    "REMOVE a REMOVE b",
    "ADD n :one ADD total :one",
    "SET n = n + :x",  # a number plus a string
    "SET big = :big",  # over 400 KB
]
WALK_VALUES = {
    ":done": {"S": "done"}, ":at": {"S": "2026-12-07"}, ":exp": {"N": "1796000000"}, ":sort": {"S": "z"},
    ":amount": {"N": "-1500"}, ":zero": {"N": "0"}, ":one": {"N": "1"}, ":empty": {"L": []},
    ":new": {"L": [{"S": "t"}]}, ":x": {"S": "x"}, ":y": {"S": "y"}, ":set": {"SS": ["a"]},
    ":gone": {"SS": ["b"]}, ":n": {"N": "7"}, ":blank": {"S": ""}, ":big": {"S": "x" * 410_000},
}  # fmt: skip
WALK_NAMES = {"#s": "status", "#k": "key"}


def _walked(update: str, existing: bool, names: dict | None = None, values: dict | None = None) -> tuple:
    """What moto's backend makes of `update` on a fresh table: the item after it, or the error it raised and
    the item as the failed update left it."""
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.dynamo_type import DynamoType

    backend = DynamoDBBackend("us-east-1", "123456789012")
    keys = [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}]
    index_keys = [{"AttributeName": "gsi1pk", "KeyType": "HASH"}, {"AttributeName": "gsi1sk", "KeyType": "RANGE"}]
    index = {"IndexName": "gsi1", "Projection": {"ProjectionType": "ALL"}, "KeySchema": index_keys}
    backend.create_table(
        "t", schema=keys, attr=[{"AttributeName": n, "AttributeType": "S"} for n in ("pk", "sk", "gsi1pk", "gsi1sk")],
        throughput=None, billing_mode="PAY_PER_REQUEST", indexes=[], global_indexes=[index], streams=None,
        sse_specification=None, tags=[], deletion_protection_enabled=False, warm_throughput=None,
    )  # fmt: skip
    key = {"pk": {"S": "TASK#1"}, "sk": {"S": "TASK"}}
    if existing:
        backend.put_item("t", {**key, "status": {"S": "open"}, "gsi1pk": {"S": "p"}, "gsi1sk": {"S": "a"},
                               "n": {"N": "5"}, "balance": {"N": "100"}, "tags": {"L": [{"S": "a"}]},
                               "l": {"L": [{"S": "0"}, {"S": "1"}]}, "m": {"M": {"deep": {"S": "i"}}},
                               "s": {"SS": ["b", "c"]}, "gone": {"S": "g"}})  # fmt: skip
    names, values = WALK_NAMES if names is None else names, WALK_VALUES if values is None else values
    try:
        item = backend.update_item("t", key, update, dict(names), dict(values))
    except Exception as error:  # the error is the outcome compared
        left = backend.get_table("t").get_item(DynamoType(key["pk"]), DynamoType(key["sk"]))
        return type(error).__name__, str(error), left.to_json() if left else None
    return "ok", item.to_json()


@pytest.mark.parametrize("existing", [True, False], ids=["existing item", "new item"])
@pytest.mark.parametrize("update", WALKED)
def test_an_update_walked_by_node_type_comes_out_as_moto_walks_it(update: str, existing: bool, monkeypatch) -> None:
    from moto.dynamodb.parsing.ast_nodes import DepthFirstTraverser, Node

    moto_expressions.apply()
    walked = _walked(update, existing)
    monkeypatch.setattr(DepthFirstTraverser, "traverse_node_recursively",
                        DepthFirstTraverser.traverse_node_recursively.__wrapped__)  # fmt: skip
    monkeypatch.setattr(Node, "find_clauses", Node.find_clauses.__wrapped__)
    assert walked == _walked(update, existing)


def test_the_walk_asks_no_abstract_class_check_per_node(monkeypatch) -> None:
    """The point of the patch: moto's walk asked ABCMeta.__instancecheck__ at every node of every walk."""
    import abc

    from moto.dynamodb.parsing.ast_nodes import DepthFirstTraverser, Node

    moto_expressions.apply()
    checks = []
    check = abc.ABCMeta.__instancecheck__
    monkeypatch.setattr(abc.ABCMeta, "__instancecheck__", lambda cls, obj: checks.append(cls) or check(cls, obj))
    update = WALKED[1]  # (WALKED[0], a plain SET and REMOVE, is not walked at all)
    assert _walked(update, True)[0] == "ok"
    patched, checks[:] = len(checks), []
    monkeypatch.setattr(DepthFirstTraverser, "traverse_node_recursively",
                        DepthFirstTraverser.traverse_node_recursively.__wrapped__)  # fmt: skip
    monkeypatch.setattr(Node, "find_clauses", Node.find_clauses.__wrapped__)
    assert _walked(update, True)[0] == "ok"
    assert patched * 5 < len(checks), (patched, len(checks))  # 242 against 1,836: the rest are moto's own


# Plain SETs (`path = :value` on top-level attributes), which are assigned without moto's walkers when every
# check passes: the targets include table keys, index keys (declared S), names with and without `#`, a name
# holding a dot, a missing name and value, and values of every type (an empty string, over 400 KB).
PLAIN_TARGETS = ["alpha", "beta", "gsi1pk", "gsi1sk", "pk", "#a", "#g", "#k", "#d", "#missing", "name"]
PLAIN_NAMES = {"#a": "alpha", "#g": "gsi1pk", "#k": "pk", "#d": "x.y", "#s": "status"}
PLAIN_VALUES = {
    ":s": {"S": "x"}, ":n": {"N": "7"}, ":blank": {"S": ""}, ":b": {"B": b"\x01"}, ":nob": {"B": b""},
    ":t": {"BOOL": True}, ":null": {"NULL": True}, ":l": {"L": [{"S": "a"}, {"N": "1"}]},
    ":m": {"M": {"k": {"SS": ["a", "b"]}}}, ":ss": {"SS": ["a"]}, ":ns": {"NS": ["1", "2"]},
    ":big": {"S": "x" * 410_000}, ":none": {"SS": []},
}  # fmt: skip
PLAIN = [
    "SET #s = :s, completed_at = :s, expires_at = :n, gsi1sk = :s, beta = :s",
    "SET gsi1pk = :blank",  # moto: an index key cannot be empty
    "SET #g = :blank",  # moto checks the token as written: through a #name it lets it through
    "SET gsi1sk = :n",  # moto: an index key declared S
    "SET #g = :n",
    "SET pk = :s",
    "SET #k = :s",
    "SET alpha = :s, #a = :n",
    "SET alpha = :missing",
    "SET #missing = :s",
    "SET #d = :m, alpha = :l, beta = :ss",
    "SET alpha = :s, big = :big, beta = :n",  # over 400 KB half-way
    "SET alpha = :t, beta = :null, gsi1sk = :b",
    "SET name = :s",  # a reserved word, unaliased
    # with a REMOVE of top-level attributes (a completed task leaves its index), in either order
    "SET #s = :s, gsi1sk = :s REMOVE gone, #g, never",
    "REMOVE gsi1pk, gsi1sk SET alpha = :n",
    "REMOVE gone, status",
    "REMOVE pk",
    "REMOVE #k",
    "SET alpha = :s REMOVE alpha",
    "SET #a = :s REMOVE alpha",
    "REMOVE gone, gone",
    "REMOVE #missing",
    "REMOVE gone SET alpha = :s, big = :big",  # over 400 KB after the remove
    "REMOVE #d SET beta = :missing",
    "SET alpha = :s REMOVE beta SET gamma = :s",
    # with an ADD of numbers and sets (the day's statistics, the tasks' pool of ids, sign-in tickets)
    "ADD fees :n, transactions :n SET expires_at = :n",
    "ADD n :n, s :ss, fresh :ns REMOVE gone",
    "ADD balance :s",  # a string: moto's IncorrectDataType
    "ADD #s :n",  # onto an existing string
    "ADD s :ns",  # a number set onto a string set
    "ADD alpha :l",
    "ADD fresh :ss, n :s",  # half-way
    "ADD pk :n",
    "ADD n :n, n :n",
    "ADD #g :n",
    "ADD empty :none",
    "SET alpha = :s ADD alpha :n",
    "ADD n :missing",
    "ADD n :n ADD m :n",
]


def _moto_validator(monkeypatch) -> None:
    """moto's own validator and executor in `update_item`, in place of the plain SETs' assignments."""
    from moto.dynamodb import models

    monkeypatch.setattr(models, "UpdateExpressionValidator", models.UpdateExpressionValidator.__wrapped__)
    monkeypatch.setattr(models, "UpdateExpressionExecutor", models.UpdateExpressionExecutor.__wrapped__)


@pytest.mark.parametrize("existing", [True, False], ids=["existing item", "new item"])
@pytest.mark.parametrize("update", PLAIN)
def test_a_plain_set_update_comes_out_as_through_motos_validator(update: str, existing: bool, monkeypatch) -> None:
    moto_expressions.apply()
    assigned = _walked(update, existing, PLAIN_NAMES, PLAIN_VALUES)
    _moto_validator(monkeypatch)
    assert assigned == _walked(update, existing, PLAIN_NAMES, PLAIN_VALUES)


def test_random_plain_set_updates_come_out_as_through_motos_validator(monkeypatch) -> None:
    import random

    from moto.dynamodb import models

    moto_expressions.apply()
    draw = random.Random(20261207)
    updates = []
    for _ in range(150):
        actions = [f"{draw.choice(PLAIN_TARGETS)} = {draw.choice([*PLAIN_VALUES, ':missing'])}"
                   for _ in range(draw.randint(1, 4))]  # fmt: skip
        removed = [draw.choice([*PLAIN_TARGETS, "gone", "status"]) for _ in range(draw.randint(0, 2))]
        added = [f"{draw.choice([*PLAIN_TARGETS, 'n', 's', 'status'])} {draw.choice([*PLAIN_VALUES, ':missing'])}"
                 for _ in range(draw.randint(0, 2))]  # fmt: skip
        clauses = ["SET " + ", ".join(actions)] + (["REMOVE " + ", ".join(removed)] if removed else [])
        clauses += ["ADD " + ", ".join(added)] if added else []
        updates.append((" ".join(draw.sample(clauses, len(clauses))), draw.random() < 0.8))
    assigned = [_walked(update, existing, PLAIN_NAMES, PLAIN_VALUES) for update, existing in updates]
    with monkeypatch.context() as patched:
        _moto_validator(patched)
        validated = [_walked(update, existing, PLAIN_NAMES, PLAIN_VALUES) for update, existing in updates]
    assert assigned == validated
    outcomes = {outcome[0] for outcome in assigned}
    assert "ok" in outcomes and len(outcomes) >= 4, outcomes  # both passes and refusals were drawn
    walked = []
    motos = models.UpdateExpressionValidator.__wrapped__
    monkeypatch.setattr(motos, "validate", lambda self: walked.append(self) or [])
    assert _walked(PLAIN[0], True, PLAIN_NAMES, PLAIN_VALUES)[0] == "ok" and not walked  # no walker ran
    completion = "SET #s = :s, gsi1sk = :s REMOVE gone, #g, never"
    assert _walked(completion, True, PLAIN_NAMES, PLAIN_VALUES)[0] == "ok" and not walked  # nor with a REMOVE
    assert _walked("ADD n :n SET expires_at = :n", True, PLAIN_NAMES, PLAIN_VALUES)[0] == "ok" and not walked
    assert _walked("SET alpha = :s DELETE s :ss", True, PLAIN_NAMES, PLAIN_VALUES) and walked  # (this one did)


def test_only_plain_actions_skip_the_walkers() -> None:
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser

    def shape(update: str) -> object:
        return moto_expressions.plain_actions(UpdateExpressionParser.make(update))

    assert shape("SET #s = :done, a = :b") == [("SET", "#s", True, ":done"), ("SET", "a", False, ":b")]
    assert shape("REMOVE c, #d SET a = :b ADD n :one") == [
        ("REMOVE", "c", False, None), ("REMOVE", "#d", True, None), ("SET", "a", False, ":b"),
        ("ADD", "n", False, ":one"),
    ]  # fmt: skip
    assert shape("REMOVE a") == [("REMOVE", "a", False, None)]
    for other in ("SET a.b = :c", "SET a[0] = :b", "SET a = b", "SET a = :b + :c", "REMOVE a.b", "REMOVE a[0]",
                  "SET a = if_not_exists(a, :b)", "ADD a.b :c", "DELETE a :b", "SET a = :b DELETE c :d",
                  "SET a = list_append(a, :b)", "SET a = :b REMOVE c SET d = :e", "ADD a :b ADD c :d"):  # fmt: skip
        assert shape(other) is None, other
