"""GET /api/v1/labs/ latency and throughput under gunicorn, on PostgreSQL.

Usage: DATABASE_URL=postgres://postgres@127.0.0.1:5432/nestlab .venv/bin/python bench/api.py

It works in a throwaway database (``<name>_bench_api``), never in the configured one, and drops
it at the end. It bulk-creates 50 tenants, 2,000 users (40 per tenant: 1 admin, 2 instructors,
37 students) and 10,000 labs (200 per tenant, owned by the students), with the same guardian
rows the grant functions write, starts gunicorn on the bench database, and sends GET
/api/v1/labs/ (a page of 50) from 16 concurrent clients, first as a tenant admin (sees the
tenant's 200 labs) and then as a student (sees their own). It prints p50, p95 and requests per
second for each. Target: p95 <= 50 ms.

Options (environment): BENCH_CLIENTS (16), BENCH_REQUESTS (1600 per persona), BENCH_WORKERS
(gunicorn workers; default 2 x CPUs + 1), BENCH_PORT (8765).
"""

from __future__ import annotations

import os
import random
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/nestlab")
from bench.common import ROOT, require_postgres, setup_django, throwaway_database  # noqa: E402

setup_django()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402

TENANTS = 50
USERS_PER_TENANT = 40
LABS_PER_TENANT = 200
CLIENTS = int(os.environ.get("BENCH_CLIENTS", "16"))
REQUESTS = int(os.environ.get("BENCH_REQUESTS", "1600"))
WORKERS = int(os.environ.get("BENCH_WORKERS", str(2 * (os.cpu_count() or 1) + 1)))
PORT = int(os.environ.get("BENCH_PORT", "8765"))
TARGET_P95_MS = 50.0


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def populate() -> dict:
    """Bulk rows shaped exactly like the services and grant functions make them."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import Group, Permission
    from django.utils import timezone

    from accounts.services import token_issue
    from labs import services as lab_services
    from labs.models import Lab, LabGroupObjectPermission, LabUserObjectPermission, vm_name_for
    from labs.states import LabState
    from tenants import permissions as perms
    from tenants.models import Membership, Role
    from tenants.services import tenant_create

    User = get_user_model()
    started = time.perf_counter()
    password = make_password("bench-password")
    lab_perms = {
        p.codename: p for p in Permission.objects.filter(content_type__app_label="labs", codename__in=perms.LAB_ALL)
    }
    rng = random.Random(7)
    states = [LabState.RUNNING] * 6 + [LabState.STOPPED] * 3 + [LabState.REQUESTED]
    now = timezone.now()
    picked = {}
    for t in range(TENANTS):
        tenant = tenant_create(
            slug=f"bench{t:02d}",
            name=f"Bench {t}",
            max_labs=10_000,
            max_running_labs=10_000,
            max_vcpus=100_000,
            max_memory_mb=10**9,
            max_storage_gb=10**8,
            student_max_labs=100,
        )
        template = lab_services.template_create(
            tenant=tenant,
            name="bench-lab",
            vcpus=2,
            memory_mb=4096,
            disk_gb=40,
            base_image_path=r"C:\Images\base.vhdx",
            self_service=True,
        )
        version = template.versions.get()
        users = User.objects.bulk_create(
            [
                User(username=f"bench{t:02d}-u{u:02d}", email=f"u{u}@bench{t}.test", password=password)
                for u in range(USERS_PER_TENANT)
            ]
        )
        roles = [Role.ADMIN] + [Role.INSTRUCTOR] * 2 + [Role.STUDENT] * (USERS_PER_TENANT - 3)
        Membership.objects.bulk_create(
            [Membership(tenant=tenant, user=user, role=role) for user, role in zip(users, roles, strict=True)]
        )
        managers = perms.managers_group(tenant.pk)
        managers.user_set.add(users[0])
        students = users[3:]
        labs = []
        for n in range(LABS_PER_TENANT):
            lab = Lab(
                tenant=tenant,
                owner=students[n % len(students)],
                template_version=version,
                name=f"lab {n}",
                state=rng.choice(states),
                expires_at=now + timedelta(days=7),
                state_changed_at=now,
            )
            lab.vm_name = vm_name_for(lab.id)
            labs.append(lab)
        Lab.objects.bulk_create(labs, batch_size=1000)
        LabUserObjectPermission.objects.bulk_create(
            [
                LabUserObjectPermission(user_id=lab.owner_id, permission=lab_perms[c], content_object=lab)
                for lab in labs
                for c in perms.LAB_STUDENT_OWNER
            ],
            batch_size=2000,
        )
        LabGroupObjectPermission.objects.bulk_create(
            [
                LabGroupObjectPermission(group=managers, permission=lab_perms[c], content_object=lab)
                for lab in labs
                for c in perms.LAB_ALL
            ],
            batch_size=2000,
        )
        if t == TENANTS // 2:
            picked = {"admin": users[0], "student": students[0]}
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    tokens = {who: token_issue(user=user)[1] for who, user in picked.items()}
    counts = {
        "tenants": TENANTS,
        "users": User.objects.count(),
        "labs": Lab.objects.count(),
        "groups": Group.objects.count(),
        "lab grants": LabUserObjectPermission.objects.count() + LabGroupObjectPermission.objects.count(),
    }
    print(
        f"populated in {time.perf_counter() - started:.1f} s: " + ", ".join(f"{v:,} {k}" for k, v in counts.items()),
        flush=True,
    )
    return tokens


def serve(database_name: str) -> subprocess.Popen:
    url = settings.DATABASES["default"]
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{url['USER']}@{url['HOST']}:{url['PORT']}/{database_name}",
        "DEBUG": "0",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "NESTLAB_API_RATE_USER": "10000000/min",
        "NESTLAB_API_RATE_TENANT": "10000000/min",
        "LOG_LEVEL": "WARNING",
    }
    if url.get("PASSWORD"):
        env["DATABASE_URL"] = f"postgres://{url['USER']}:{url['PASSWORD']}@{url['HOST']}:{url['PORT']}/{database_name}"
    process = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("gunicorn")),
            "config.wsgi:application",
            "-b",
            f"127.0.0.1:{PORT}",
            "-w",
            str(WORKERS),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{PORT}/api/v1/", timeout=1)
        except urllib.error.HTTPError:
            return process  # a 404 from Django: it is up
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("gunicorn did not come up within 30 s")


def load(token: str, requests: int, clients: int) -> tuple[list[float], float, int]:
    """Closed loop: each client sends its share one after another. Returns latencies (ms), seconds, rows."""
    import http.client

    latencies: list[float] = []
    lock = threading.Lock()
    rows = []
    barrier = threading.Barrier(clients)
    errors = []

    def client(share: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
        mine = []
        barrier.wait()
        for _ in range(share):
            begin = time.perf_counter()
            conn.request("GET", "/api/v1/labs/", headers={"Authorization": f"Token {token}"})
            response = conn.getresponse()
            body = response.read()
            mine.append((time.perf_counter() - begin) * 1000)
            if response.status != 200:
                errors.append(response.status)
            if response.getheader("Connection", "").lower() == "close":
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
        rows.append(body.count(b'"vm_name"'))
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client, args=(requests // clients,)) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise RuntimeError(f"{len(errors)} requests failed, e.g. HTTP {errors[0]}")
    return latencies, elapsed, rows[0]


def main() -> int:
    if not require_postgres("bench/api.py"):
        return 2
    with throwaway_database("api") as bench_name:
        server = None
        try:
            tokens = populate()
            connection.close()
            server = serve(bench_name)
            print(
                f"load average {os.getloadavg()[0]:.1f}; gunicorn: {WORKERS} sync workers on {os.cpu_count()} CPUs; "
                f"{CLIENTS} concurrent clients, "
                f"{REQUESTS} requests per persona (after {CLIENTS * 10} warm-up requests)",
                flush=True,
            )
            worst = 0.0
            for persona, token in tokens.items():
                load(token, CLIENTS * 10, CLIENTS)  # warm-up: connections, imports, caches
                alone, _, _ = load(token, 200, 1)  # one client: the service time, without queueing
                latencies, elapsed, rows = load(token, REQUESTS, CLIENTS)
                p50, p95 = statistics.median(latencies), percentile(latencies, 0.95)
                worst = max(worst, p95)
                print(
                    f"GET /api/v1/labs/ as tenant {persona:7s} ({rows:2d} rows/page): "
                    f"{CLIENTS} clients: p50 {p50:6.1f} ms  p95 {p95:6.1f} ms  {len(latencies) / elapsed:5.0f} req/s"
                    " | 1 client: p50 "
                    f"{statistics.median(alone):5.1f} ms  p95 {percentile(alone, 0.95):5.1f} ms",
                    flush=True,
                )
            verdict = "meets" if worst <= TARGET_P95_MS else "MISSES"
            print(
                f"target p95 <= {TARGET_P95_MS:.0f} ms with {CLIENTS} clients: {verdict} (worst p95 {worst:.1f} ms); "
                f"load average now {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (this machine is shared)"
            )
            return 0
        finally:
            if server is not None:
                server.terminate()
                server.wait(timeout=30)


if __name__ == "__main__":
    sys.exit(main())
