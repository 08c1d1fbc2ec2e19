"""What a model server's logging does, with the SDK alone (``pip install ./sdk``: no
torch, no web framework): log decisions of the loans model, then their labels, flush,
and print what the client counted as one JSON line.

    python examples/sdk_logging.py --url http://127.0.0.1:8000 --key vt_... --count 100

Runs on Python 3.9 or later, as model-server images do.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random

from verity_sdk import VerityClient, __version__

CLASSES = ["deny", "approve"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--model", default="loans")
    parser.add_argument("--version", default="v1")
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--prefix", default="sdk-example")
    args = parser.parse_args()
    rng = random.Random(0)
    client = VerityClient(args.url, args.key, model=args.model, version=args.version)
    events = []
    for i in range(args.count):
        applicant = {
            "age": rng.uniform(18, 80),
            "income": rng.uniform(10_000, 200_000),
            "debt": rng.uniform(0, 50_000),
            "region": rng.choice(["north", "south"]),
        }
        p_approve = min(1.0, applicant["income"] / 200_000)
        events.append(
            client.log(
                applicant,
                CLASSES[int(p_approve >= 0.5)],
                score=p_approve,
                event_id=f"{args.prefix}-{i}",
            )
        )
    for event_id in events[::2]:
        client.log_label(event_id, rng.choice(CLASSES))
    flushed = client.flush(timeout=60)
    client.close()
    print(json.dumps({"sdk": __version__, "flushed": flushed, **dataclasses.asdict(client.stats)}))


if __name__ == "__main__":
    main()
