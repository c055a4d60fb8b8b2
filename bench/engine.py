"""Engine throughput: claims settled per second on one core, against just parsing their JSON.

    python bench/engine.py [--claims N] [--small]

Each claim is settled from its JSON text, the way `counter-app settle` does it: decode, check every
field, choose the pack, settle, build the settlement JSON. The baseline is `json.loads` of the same
texts, measured in the same run, interleaved with the settles in rounds and counted in CPU time
(`time.thread_time`): on a shared machine the wall clock swings twofold, the CPU time does not. Three sets: the usual mix (1-6 items), and claims of 50 and of 200
items. Prints both rates and the ratio (settle cost / parse cost) for each, and the share of claims
the fast path took (engine/fast.py; the rest go through the field-by-field checker).
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import time

import common  # noqa: F401 - the project on the path, the audit's own key

from counter_app.claims import settle_text
from counter_app.engine.fast import fast_claim
from counter_app.policies import pack_ids
from tests.engine.builders import claim, item, provider


def sample_claims(n: int, seed: int = 7, items_each: int | None = None) -> list[str]:
    rng = random.Random(seed)
    texts = []
    for i in range(n):
        items = []
        for j in range(items_each or rng.randint(1, 6)):
            cls = rng.choice("AAABBC")
            extra = {"prepay_ratio": rng.choice(["0.10", "0.20"])} if cls == "B" else {}
            items.append(item(f"I{j}", f"{rng.randint(1, 60000) / 100:.2f}", cls, **extra))
        family = [
            provider(f"F{i}-{k}", rel, f"{rng.randint(0, 90000) / 100:.2f}")
            for k, rel in enumerate(rng.sample(["spouse", "father", "mother", "child"], rng.randint(0, 2)))
        ]
        texts.append(
            json.dumps(
                claim(
                    policy=rng.choice(["wuhu-2022", "wuhu-2022", "hefei-2019"]),
                    items=items,
                    family=family,
                    institution={
                        "level": rng.randint(0, 3),
                        "kind": rng.choice(["hospital", "primary_care"]),
                    },
                    person={
                        "account_balance": f"{rng.randint(0, 50000) / 100:.2f}",
                        "psn_type": rng.choice(["in_service", "retired"]),
                        "psn_no": f"P{i}",
                    },
                    ytd={"deductible_paid": f"{rng.randint(0, 80000) / 100:.2f}"},
                ),
                ensure_ascii=False,
            )
        )
    return texts


def cpu_rates(texts: list[str], rounds: int = 6) -> tuple[float, float]:
    """(json.loads claims per CPU second, settle claims per CPU second), the two interleaved
    round by round so both see the same machine."""
    parse = settle = 0.0
    for _ in range(rounds):
        start = time.thread_time()
        for text in texts:
            json.loads(text)
        parse += time.thread_time() - start
        start = time.thread_time()
        for text in texts:
            settle_text(text)
        settle += time.thread_time() - start
    return rounds * len(texts) / parse, rounds * len(texts) / settle


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--claims", type=int, default=20_000)
    parser.add_argument("--small", action="store_true", help="a few claims: checks the bench still runs")
    args = parser.parse_args()
    claims = 400 if args.small else args.claims
    print(
        f"machine: {platform.processor() or platform.machine()}, Python {platform.python_version()}, "
        "one core, CPU time (thread_time), json.loads and settle interleaved"
    )
    print("aim (issue 28): settle within 4x of json.loads on the mix, in CPU time")
    for name, texts in (
        ("mix (1-6 items)", sample_claims(claims)),
        ("50 items", sample_claims(max(claims // 20, 20), seed=50, items_each=50)),
        ("200 items", sample_claims(max(claims // 80, 5), seed=200, items_each=200)),
    ):
        settle_text(texts[0])  # load packs before timing
        fast = sum(fast_claim(t, pack_ids()) is not None for t in texts)
        parse_rate, settle_rate = cpu_rates(texts, rounds=2 if args.small else 6)
        ratio = parse_rate / settle_rate
        print(
            f"{name}: {len(texts)} claims, mean JSON {sum(map(len, texts)) // len(texts)} chars, "
            f"fast path {fast / len(texts):.0%}"
        )
        print(f"  json.loads only (floor): {parse_rate:12,.0f} claims/CPU-s")
        print(f"  settle (JSON->JSON):     {settle_rate:12,.0f} claims/CPU-s")
        verdict = (
            ("met" if ratio <= 4 else "not met") if name.startswith("mix") else "(the aim is on the mix)"
        )
        print(f"  ratio settle/parse cost: {ratio:.1f}x  {verdict}")


if __name__ == "__main__":
    main()
