"""Engine throughput: claims settled per second on one core, against just parsing their JSON.

    python bench/engine.py [--claims N]

Each claim is settled from its JSON text, the way `counter-app settle` does it: decode, check every
field, choose the pack, settle, build the settlement JSON. The baseline is `json.loads` of the same
texts, measured in the same run. Three sets: the usual mix (1-6 items), and claims of 50 and of 200
items. Prints both rates and the ratio (settle cost / parse cost) for each, and the share of claims
the fast path took (engine/fast.py; the rest go through the field-by-field checker).
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

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


def rate(fn, texts: list[str], repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for text in texts:
            fn(text)
        best = min(best, time.perf_counter() - start)
    return len(texts) / best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--claims", type=int, default=20_000)
    args = parser.parse_args()
    print(
        f"machine: {platform.processor() or platform.machine()}, Python {platform.python_version()}, one core"
    )
    print("aim: >= 50,000 claims/s and within 4x of json.loads (the mix)")
    for name, texts in (
        ("mix (1-6 items)", sample_claims(args.claims)),
        ("50 items", sample_claims(max(args.claims // 20, 200), seed=50, items_each=50)),
        ("200 items", sample_claims(max(args.claims // 80, 50), seed=200, items_each=200)),
    ):
        settle_text(texts[0])  # load packs before timing
        fast = sum(fast_claim(t, pack_ids()) is not None for t in texts)
        parse_rate = rate(json.loads, texts)
        settle_rate = rate(settle_text, texts)
        print(
            f"{name}: {len(texts)} claims, mean JSON {sum(map(len, texts)) // len(texts)} chars, "
            f"fast path {fast / len(texts):.0%}"
        )
        print(f"  json.loads only:      {parse_rate:12,.0f} claims/s")
        print(f"  settle (JSON->JSON):  {settle_rate:12,.0f} claims/s")
        print(f"  ratio settle/parse cost: {parse_rate / settle_rate:.1f}x")


if __name__ == "__main__":
    main()
