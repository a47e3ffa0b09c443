"""Provisioning makespan and control-plane CPU: N labs across H simulated hosts.

Usage (needs PostgreSQL and Redis, like ``make test``; ``make bench`` sets them up):
    .venv/bin/python bench/provision.py [--labs 200] [--hosts 10] [--per-host 2] [--time-scale 0.05]

H simulators run with realistic latency scaled by --time-scale, each registered as a Host with
``max_parallel_operations = K``. One Celery worker (threads pool, concurrency H*K + 4) does the
work, against a throwaway database that is dropped at the end. It prints:
- the makespan: first request to last lab running;
- the ideal makespan, the hosts' own critical path: ceil(N / (H*K)) x the time one lab takes on
  an idle fleet (measured first, request to running);
- their ratio (target <= 1.10);
- control-plane CPU seconds per lab: CPU of the worker process and of the requests (this
  process), not of the simulators or PostgreSQL (target <= 20 ms).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.common import setup_django, throwaway_database  # noqa: E402

setup_django()

from django.conf import settings  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its reaped children, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    utime, stime, cutime, cstime = (int(value) for value in fields[11:15])
    return (utime + stime + cutime + cstime) / TICKS


def own_cpu() -> float:
    usage = os.times()
    return usage.user + usage.system


def wait_running(count: int, timeout: float) -> float:
    from labs.models import Lab
    from labs.states import LabState

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        states = set(Lab.objects.values_list("state", flat=True).distinct())
        done = Lab.objects.filter(state=LabState.RUNNING).count()
        if done >= count:
            return time.monotonic()
        if LabState.FAILED in states:
            failed = Lab.objects.filter(state=LabState.FAILED).values_list("last_error", flat=True)[:3]
            raise SystemExit(f"labs failed: {list(failed)}")
        time.sleep(0.05)
    raise SystemExit(f"timed out: {Lab.objects.filter(state=LabState.RUNNING).count()} of {count} running")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labs", type=int, default=200)
    parser.add_argument("--hosts", type=int, default=10)
    parser.add_argument("--per-host", type=int, default=2)
    parser.add_argument("--time-scale", type=float, default=0.05)
    args = parser.parse_args()
    if not settings.DATABASES["default"]["ENGINE"].endswith("postgresql") or settings.CELERY_BROKER_URL.startswith(
        "filesystem"
    ):
        print("bench/provision.py needs PostgreSQL and Redis (DATABASE_URL, CELERY_BROKER_URL)", file=sys.stderr)
        return 1

    from labs.services import lab_request
    from tests import factories
    from tests.integration.harness import Worker, host_for, purge_broker
    from workers.hyperv.simulator.testing import run_simulator

    with throwaway_database("provision"), ExitStack() as stack:
        purge_broker()
        stack.callback(purge_broker)
        sims = [
            stack.enter_context(
                run_simulator(
                    latency="realistic", time_scale=args.time_scale, memory_mb=1_048_576, cpus=256, storage_gb=100_000
                )
            )
            for _ in range(args.hosts)
        ]
        for n, sim in enumerate(sims):
            host_for(
                sim,
                f"bench{n:02}",
                memory_mb=1_048_576,
                cpus=256,
                storage_gb=100_000,
                max_parallel_operations=args.per_host,
            )
        tenant = factories.tenant(
            "bench",
            max_labs=10_000,
            max_running_labs=10_000,
            max_vcpus=100_000,
            max_memory_mb=100_000_000,
            max_storage_gb=10_000_000,
        )
        admin = factories.member(tenant, "bench-admin", "admin")
        template = factories.template(tenant, "bench-lab")
        worker = Worker(concurrency=args.hosts * args.per_host + 4, pool="threads").start()
        stack.callback(worker.stop)
        time.sleep(3)  # worker start-up is not part of any figure

        began = time.monotonic()
        lab_request(actor=admin, template=template)
        one_lab = wait_running(1, 120) - began

        worker_cpu, requests_cpu = cpu_seconds(worker.process.pid), own_cpu()
        began = time.monotonic()
        for _ in range(args.labs):
            lab_request(actor=admin, template=template)
        requests_cpu = own_cpu() - requests_cpu
        finished = wait_running(args.labs + 1, 1800)
        worker_cpu = cpu_seconds(worker.process.pid) - worker_cpu
        makespan = finished - began

        rounds = math.ceil(args.labs / (args.hosts * args.per_host))
        ideal = rounds * one_lab
        per_lab_ms = (worker_cpu + requests_cpu) / args.labs * 1000
        print(
            f"provisioning {args.labs} labs on {args.hosts} simulated hosts, {args.per_host} operations per host, "
            f"realistic latency x {args.time_scale}"
        )
        print(f"  one lab on an idle fleet:  {one_lab:7.2f} s (request to running)")
        print(f"  makespan:                  {makespan:7.2f} s")
        print(
            f"  ideal makespan:            {ideal:7.2f} s  (ceil({args.labs}/({args.hosts}x{args.per_host})) = "
            f"{rounds} rounds x {one_lab:.2f} s)"
        )
        print(f"  ratio:                     {makespan / ideal:7.3f}  (target <= 1.10)")
        print(
            f"  control-plane CPU per lab: {per_lab_ms:7.1f} ms  (worker {worker_cpu:.2f} s + requests "
            f"{requests_cpu:.2f} s; target <= 20 ms)"
        )
        return 0


if __name__ == "__main__":
    sys.exit(main())
