"""Run a function from many threads at once, each with its own database connection."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from django.db import connections


def run_at_once(fn: Callable[[int], object], calls: int, *, threads: int = 40) -> list[object]:
    """Call ``fn(i)`` for i in range(calls) from ``threads`` threads released together.

    Returns each call's result or the exception it raised. Every thread closes its own
    connections at the end, so PostgreSQL never runs out of slots.
    """
    threads = min(threads, calls)
    start = threading.Barrier(threads)
    results: list[object] = [None] * calls
    chunks = [range(worker, calls, threads) for worker in range(threads)]

    def work(indices: range) -> None:
        try:
            start.wait()
            for index in indices:
                try:
                    results[index] = fn(index)
                except Exception as exc:  # the caller sorts results from refusals
                    results[index] = exc
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=threads) as pool:
        for future in [pool.submit(work, chunk) for chunk in chunks]:
            future.result()
    return results
