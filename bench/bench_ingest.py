"""Log ingest rate and memory per stored record, against bare `orjson.loads`.

Lines of the contract's shape (one record per request, 250 to 290 bytes each)
are generated with a fixed seed. In the same run, alternating, this times:

- a bare loop calling `orjson.loads` on every line and dropping the result;
- `LogStore.ingest` (parse, store, index by request ID) of the same lines into
  a store half their count in size, so eviction is included.

Each is repeated and the fastest run counts. Memory is measured with
tracemalloc: a full store of `--capacity` records built from lines made after
tracing started, divided by the record count, next to one parsed dict per
record for comparison. Last, it times `LogStore.request_seqs` for 1,000
request IDs of that full store, to show what the index costs a lookup.

Run: `python bench/bench_ingest.py [--lines 200000] [--capacity 100000]`.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import time
import tracemalloc
import uuid
from collections.abc import Callable

import orjson

from haven_top.core.logstore import LogStore

LEVELS = ("INFO", "INFO", "INFO", "WARNING", "ERROR", "DEBUG")


def make_lines(count: int, seed: int = 1) -> list[bytes]:
    rng = random.Random(seed)
    lines = []
    for i in range(count):
        status = rng.choice((200, 200, 200, 201, 404, 500))
        doc = {
            "timestamp": f"2025-01-15T12:{i // 60000 % 60:02d}:"
            f"{i // 1000 % 60:02d}.{i % 1000:03d}Z",
            "level": rng.choice(LEVELS),
            "logger": "haven.api",
            "message": "Request processed",
            "extra": {
                "request_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                "method": rng.choice(("GET", "GET", "POST", "PUT", "DELETE")),
                "path": f"/api/v1/records/{rng.randint(1, 5000)}",
                "status_code": status,
                "duration_ms": round(rng.uniform(1, 400), 2),
            },
        }
        lines.append(json.dumps(doc).encode())
    return lines


def best_seconds(run: Callable[[], None], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        gc.collect()
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return best


def measure_rates(lines: list[bytes], repeats: int) -> tuple[float, float]:
    """Return (bare loads/s, ingest records/s), the best of `repeats` each."""

    def bare() -> None:
        loads = orjson.loads
        for line in lines:
            loads(line)

    def ingest() -> None:
        LogStore(max(1, len(lines) // 2)).ingest(lines, "bench", 0.0)

    bare_best = ingest_best = float("inf")
    for _ in range(repeats):
        bare_best = min(bare_best, best_seconds(bare, 1))
        ingest_best = min(ingest_best, best_seconds(ingest, 1))
    return len(lines) / bare_best, len(lines) / ingest_best


def fill_store(capacity: int) -> LogStore:
    store = LogStore(capacity)
    for start in range(0, capacity, 1000):
        store.ingest(make_lines(1000, seed=start), "bench", float(start))
    return store


def measure_memory(capacity: int) -> tuple[float, float, float]:
    """Return (bytes per stored record, bytes per parsed dict, mean line bytes)."""
    gc.collect()
    tracemalloc.start()
    store = fill_store(capacity)
    gc.collect()
    stored = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    mean_line = sum(len(store.raw_at(seq)) for seq in store.seqs()) / len(store)
    del store

    sample = make_lines(20_000, seed=99)
    gc.collect()
    tracemalloc.start()
    docs = [orjson.loads(line) for line in sample]
    parsed = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del docs
    return stored / capacity, parsed / len(sample), mean_line


def measure_lookup(capacity: int, count: int = 1000) -> float:
    """Return the mean seconds of one `request_seqs` call in a full store."""
    store = fill_store(capacity)
    step = max(1, len(store) // count)
    request_ids = []
    for seq in range(store.first_seq, store.next_seq, step):
        record = store.get(seq)
        if record is not None and record.request_id is not None:
            request_ids.append(record.request_id)
    started = time.perf_counter()
    for request_id in request_ids:
        store.request_seqs(request_id)
    return (time.perf_counter() - started) / len(request_ids)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--capacity", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    lines = make_lines(args.lines)
    bare_rate, ingest_rate = measure_rates(lines, args.repeats)
    print(f"lines: {len(lines):,}, mean {sum(map(len, lines)) / len(lines):.0f} bytes")
    print(f"bare orjson.loads:      {bare_rate:>12,.0f} lines/s")
    print(f"LogStore.ingest:        {ingest_rate:>12,.0f} records/s")
    print(f"ingest / bare:          {ingest_rate / bare_rate:>12.2f}x  (aim >= 0.5)")

    per_record, per_dict, mean_line = measure_memory(args.capacity)
    print(f"full store of {args.capacity:,}: {per_record:,.0f} bytes per record")
    print(f"  of which the line itself: {mean_line + 33:,.0f} bytes (bytes object)")
    print(f"one parsed dict per record: {per_dict:,.0f} bytes (aim: store < 600)")
    lookup = measure_lookup(args.capacity)
    print(f"request_seqs in that store: {lookup * 1e6:,.0f} µs per request ID")


if __name__ == "__main__":
    main()
