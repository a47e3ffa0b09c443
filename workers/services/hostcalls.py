"""How workers reach a host: the driver for a Host row, and the per-host operation slots.

Calls to a host never run inside a database transaction: they can take minutes.
"""

from __future__ import annotations

import os
import random
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from django.utils.module_loading import import_string

from config.errors import HostBusy, LabBusy
from labs.models import Lab
from workers.hyperv.driver import HyperVDriver
from workers.hyperv.interface import ConnectionSpec, HypervisorDriver
from workers.models import Host, HostLease


def winrm_driver(host: Host) -> HypervisorDriver:
    """The production driver: pywinrm to the host's WinRM endpoint."""
    return HyperVDriver(connection_spec(host))


def connection_spec(host: Host) -> ConnectionSpec:
    return ConnectionSpec(
        host_name=host.name,
        endpoint=host.endpoint,
        port=host.port,
        transport=host.transport,
        username=host.username,
        password=host.get_password(),
        use_tls=host.use_tls,
        verify_tls=True,
        ca_bundle=settings.NESTLAB_WINRM_CA_BUNDLE,
        allow_plaintext=settings.NESTLAB_ALLOW_PLAINTEXT_WINRM,
        call_deadline_s=settings.NESTLAB_WINRM_CALL_DEADLINE,
    )


def driver_for(host: Host) -> HypervisorDriver:
    return import_string(settings.NESTLAB_DRIVER_FACTORY)(host)


def _holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _claim(host: Host, key: str, holder: str) -> bool:
    now = timezone.now()
    free = Q(holder="") | Q(expires_at__lt=now)
    until = now + timedelta(seconds=settings.NESTLAB_HOST_LEASE_SECONDS)
    return bool(HostLease.objects.filter(free, host=host, key=key).update(holder=holder, expires_at=until))


def _release(host: Host, key: str, holder: str) -> None:
    HostLease.objects.filter(host=host, key=key, holder=holder).update(holder="", expires_at=None)


@contextmanager
def host_slot(host: Host, *, wait_s: float | None = None) -> Iterator[None]:
    """Hold one of the host's ``max_parallel_operations`` slots, waiting up to ``wait_s`` for one.

    Waiting inside the task (polling the lease rows a few times a second) hands a freed slot on
    within a fraction of a second; the number of waiting tasks is bounded by worker concurrency,
    so the polling stays cheap. After ``wait_s`` (NESTLAB_HOST_SLOT_WAIT) it raises HostBusy and
    the task is re-enqueued, which frees the worker for other hosts' work.
    """
    keys = [f"slot:{n}" for n in range(host.max_parallel_operations)]
    holder = _holder()
    deadline = time.monotonic() + (settings.NESTLAB_HOST_SLOT_WAIT if wait_s is None else wait_s)
    while (claimed := next((key for key in keys if _claim(host, key, holder)), None)) is None:
        if HostLease.objects.filter(host=host, key__in=keys).count() < len(keys):
            for key in keys:  # first use of this host, or its limit was raised
                HostLease.objects.get_or_create(host=host, key=key)
            continue
        if time.monotonic() >= deadline:
            raise HostBusy(f"Host {host.name} is already running {host.max_parallel_operations} operations.")
        time.sleep(random.uniform(0.1, 0.3))
    try:
        yield
    finally:
        _release(host, claimed, holder)


@contextmanager
def host_mutex(host: Host, key: str, *, wait_s: float = 30.0) -> Iterator[None]:
    """Be the only worker doing ``key`` on this host (e.g. ``switch:<name>``), waiting up to ``wait_s``."""
    HostLease.objects.get_or_create(host=host, key=key)
    holder = _holder()
    deadline = time.monotonic() + wait_s
    while not _claim(host, key, holder):
        if time.monotonic() > deadline:
            raise HostBusy(f"Host {host.name}: {key} stayed busy for {wait_s:.0f} s.")
        time.sleep(random.uniform(0.05, 0.2))
    try:
        yield
    finally:
        _release(host, key, holder)


@contextmanager
def lab_lease(lab_id) -> Iterator[None]:
    """Be the only worker doing host work for this lab, or raise LabBusy.

    Two deliveries of one task running at once would both find no VM and both call New-VM
    (Hyper-V allows duplicate names); the lease makes the second wait and then find the lab
    moved on. Like host slots, it is a compare-and-set in the shared database and expires by itself.
    """
    holder = _holder()
    now = timezone.now()
    until = now + timedelta(seconds=settings.NESTLAB_HOST_LEASE_SECONDS)
    free = Q(worker_lease="") | Q(worker_lease_until__lt=now)
    if not Lab.objects.filter(free, pk=lab_id).update(worker_lease=holder, worker_lease_until=until):
        if not Lab.objects.filter(pk=lab_id).exists():
            raise Lab.DoesNotExist(f"Lab {lab_id} does not exist.")
        raise LabBusy(f"Lab {lab_id} is being worked on by another worker.")
    try:
        yield
    finally:
        Lab.objects.filter(pk=lab_id, worker_lease=holder).update(worker_lease="", worker_lease_until=None)
