"""Hostile and broken claims, for the property tests and bench/fuzz.py: valid claims mutated one
way or several (wrong types, look-alike digits, absurd numbers, deep nesting, huge text, control
characters, cut or corrupted JSON text), and JSON of any shape."""

from __future__ import annotations

import copy
import json
import random
from typing import Any

from .builders import claim, item, provider

HOSTILE_VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    3.5,
    "",
    " ",
    "１２３.４５",
    "١٢٣.٤٥",
    "12.345",
    "-0.00",
    "1e3",
    "NaN",
    "Infinity",
    "9" * 13,
    "0" * 5000,
    "\x00",
    "a\u202eb",
    "\n",
    "X" * 100_000,
    [],
    {},
    [[[[]]]],
    {"a": {"b": {"c": {}}}},
    "2024-02-30",
    "２０２４-０５-１０",
    "0000-00-00",
    10**30,
    -(10**30),
    "310 ",
    "wuhu-2022\u0000",
]
RAW_NUMBERS = [
    "1" * 5000,
    "1e999999",
    "-1e-999999",
    "NaN",
    "Infinity",
    "-Infinity",
    "1" * 4301,
    "0." + "0" * 5000 + "1",
]


def seeds() -> list[dict[str, Any]]:
    """Well-formed claims the mutations start from."""
    family = [provider("F1", "spouse", "300.00"), provider("F2", "father", "50.00")]
    return [
        claim(),
        claim(
            items=[item("A", "120.00"), item("B", "80.00", "B", prepay_ratio="0.2"), item("C", "30.00", "C")],
            family=family,
            person={"insutype": "390"},
        ),
        claim(
            policy="hefei-2019",
            med_type="41",
            prescribing_level=2,
            institution={"kind": "pharmacy", "level": 0},
            family=family,
            person={"account_balance": "20.00"},
        ),
    ]


def _paths(node: Any, path: tuple = ()) -> list[tuple]:
    out = [path]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*path, i))
    return out


def _set(root: Any, path: tuple, value: Any) -> Any:
    if not path:
        return value
    node = root
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return root


def mutate(data: dict[str, Any], rng: random.Random) -> Any:
    """One to three structural mutations of a claim (a deep copy)."""
    data = copy.deepcopy(data)
    for _ in range(rng.randint(1, 3)):
        paths = _paths(data)
        path = rng.choice(paths[1:] or [()])
        what = rng.random()
        if what < 0.6:
            data = _set(data, path, copy.deepcopy(rng.choice(HOSTILE_VALUES)))
        elif what < 0.75 and path:
            parent = data
            for key in path[:-1]:
                parent = parent[key]
            if isinstance(parent, dict):
                parent.pop(path[-1], None)
            elif isinstance(parent, list) and parent:
                parent.pop()
        elif what < 0.85 and isinstance(data, dict):
            data[rng.choice(["extra", "items", "family", "person"])] = rng.choice(
                [
                    [item()] * rng.choice([0, 1001, 3000]),
                    [provider(f"F{i}") for i in range(rng.choice([0, 25]))],
                    "?",
                    1,
                ]
            )
        else:
            nested: Any = item()
            for _ in range(rng.choice([5, 50])):
                nested = [nested]
            data = _set(data, path, nested)
    return data


def text_mutation(text: str, rng: random.Random) -> str:
    """A claim's JSON text cut, corrupted, padded or stuffed with numbers the decoder balks at."""
    what = rng.random()
    if what < 0.2:
        return text[: rng.randrange(len(text))]
    if what < 0.4:
        k = rng.randrange(len(text))
        return text[:k] + rng.choice(["\x00", "{", "]", '"', "\\", "１", "\ud800", ","]) + text[k + 1 :]
    if what < 0.55:
        return text.replace('"100.00"', rng.choice(RAW_NUMBERS), 1).replace(
            '"2024"', rng.choice(RAW_NUMBERS), 1
        )
    if what < 0.7:
        depth = rng.choice([100, 2000, 200_000])
        return text.replace('"items": [', '"items": ' + "[" * depth, 1) + "]" * rng.choice([0, depth])
    if what < 0.8:
        return text + " " * rng.choice([10, 2_000_000])
    if what < 0.9:
        return rng.choice(["", "null", "[]", "{}", '"claim"', "1", "[" * 100_000, '{"a":' * 50_000])
    return json.dumps(mutate(json.loads(text), rng), ensure_ascii=rng.random() < 0.5)


def cases(n: int, seed: int = 20261129) -> list[str]:
    """`n` hostile claim texts, the same ones for the same seed."""
    rng = random.Random(seed)
    base = [json.dumps(s, ensure_ascii=False) for s in seeds()]
    out = []
    for k in range(n):
        text = base[k % len(base)]
        if rng.random() < 0.5:
            out.append(json.dumps(mutate(json.loads(text), rng), ensure_ascii=False))
        else:
            out.append(text_mutation(text, rng))
    return out
