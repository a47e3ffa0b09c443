"""lab_request throughput and latency under concurrency, on PostgreSQL.

Usage: DATABASE_URL=postgres://postgres@127.0.0.1:5432/nestlab .venv/bin/python bench/quota.py
(``make bench`` does this). It works in a throwaway database (``<name>_bench_quota``), never
in the configured one, and drops it at the end.

For each concurrency (1, 8, 32) and tenant count (1, 20) it sends 400 requests (a class of
400 students asking at the same moment) from that many client processes, as a web tier of
that many workers would, each with its own connection. It prints throughput, p50 and p99
latency, and whether the quota held exactly.
Target: p99 <= 2 s and >= 200 requests/s.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import require_postgres, setup_django, throwaway_database  # noqa: E402

setup_django()


REQUESTS = 400
QUOTA_LABS = 300  # a class of 400 against a quota of 300: 100 must be refused, exactly


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def _students(tenant, count: int) -> list:
    """Bulk-made students (unusable passwords: hashing 400 passwords would dominate the run)."""
    from django.contrib.auth import get_user_model

    from tenants.models import Membership, Role

    User = get_user_model()
    users = User.objects.bulk_create([User(username=f"{tenant.slug}-s{n}", password="!") for n in range(count)])
    Membership.objects.bulk_create([Membership(tenant=tenant, user=user, role=Role.STUDENT) for user in users])
    return users


def _client(chunk, barrier, results) -> None:
    """One client process: load its rows, wait for the start, send its requests one by one."""
    from django.contrib.auth import get_user_model
    from django.db import connections

    from config.errors import QuotaExceeded
    from labs.models import LabTemplate
    from labs.services import lab_request

    users = get_user_model().objects.in_bulk([user_id for user_id, _ in chunk])
    templates = LabTemplate.objects.select_related("tenant").in_bulk({template_id for _, template_id in chunk})
    out = []
    barrier.wait()
    for user_id, template_id in chunk:
        began = time.perf_counter()
        try:
            lab_request(actor=users[user_id], template=templates[template_id])
            outcome = "granted"
        except QuotaExceeded:
            outcome = "refused"
        except Exception as exc:  # reported, and makes the run fail
            outcome = repr(exc)
        out.append((time.perf_counter() - began, outcome))
    connections.close_all()
    results.put(out)


def run_processes(job_ids, concurrency: int):
    """Send the requests from ``concurrency`` forked client processes, each with its own connection."""
    import multiprocessing

    from django.db import connections

    connections.close_all()  # never share a connection with a forked child
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(concurrency + 1)
    results = context.Queue()
    chunks = [job_ids[i::concurrency] for i in range(concurrency)]
    clients = [context.Process(target=_client, args=(chunk, barrier, results)) for chunk in chunks]
    for client in clients:
        client.start()
    barrier.wait()
    began = time.perf_counter()
    collected = [results.get() for _ in clients]
    elapsed = time.perf_counter() - began
    for client in clients:
        client.join()
    flat = [item for chunk in collected for item in chunk]
    return elapsed, [latency for latency, _ in flat], [outcome for _, outcome in flat]


def scenario(concurrency: int, tenant_count: int, round_no: int) -> dict:
    from labs.models import Lab
    from labs.states import LIVE
    from tests import factories

    per_tenant = REQUESTS // tenant_count
    quota = max(1, QUOTA_LABS // tenant_count)
    jobs = []
    tenants = []
    for t in range(tenant_count):
        tenant = factories.tenant(
            f"b{round_no}-{concurrency}-{tenant_count}-{t}",
            max_labs=quota,
            max_running_labs=10_000,
            max_vcpus=100_000,
            max_memory_mb=100_000_000,
            max_storage_gb=10_000_000,
            student_max_labs=2,
        )
        tenants.append(tenant)
        template = factories.template(tenant, "t", self_service=True)
        students = _students(tenant, per_tenant)
        jobs.extend((student, template) for student in students)

    job_ids = [(student.pk, template.pk) for student, template in jobs]
    elapsed, latencies, results = run_processes(job_ids, concurrency)
    granted = results.count("granted")
    errors = [r for r in results if r not in ("granted", "refused")]
    exact = all(Lab.objects.filter(tenant=t, state__in=LIVE).count() == quota for t in tenants)
    return {
        "concurrency": concurrency,
        "tenants": tenant_count,
        "rps": len(jobs) / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
        "granted": granted,
        "expected": quota * tenant_count,
        "exact": exact and not errors and granted == quota * tenant_count,
    }


def main() -> int:
    if not require_postgres("bench/quota.py"):
        return 1
    with throwaway_database("quota"):
        print(f"lab_request on PostgreSQL: {REQUESTS} requests per run, quota {QUOTA_LABS} labs in total")
        print(
            f"{'concurrency':>11} {'tenants':>7} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'granted':>8}  quota exact"
        )
        ok = True
        for round_no, (concurrency, tenants) in enumerate((c, t) for t in (1, 20) for c in (1, 8, 32)):
            row = scenario(concurrency, tenants, round_no)
            ok &= row["exact"]
            print(
                f"{row['concurrency']:>11} {row['tenants']:>7} {row['rps']:>8.0f} {row['p50_ms']:>8.1f} "
                f"{row['p99_ms']:>8.1f} {row['granted']:>4}/{row['expected']:<4} {'yes' if row['exact'] else 'NO'}"
            )
        return 0 if ok else 2


if __name__ == "__main__":
    sys.exit(main())
