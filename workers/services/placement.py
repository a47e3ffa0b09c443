"""Placement: choose a host for a lab and reserve its capacity in the Allocation ledger.

Lock order, everywhere in Nestlab: the Lab row first, then Host rows in ascending id. Row locks
are FOR NO KEY UPDATE of the named table only (``no_key=True, of=("self",)``): they exclude each
other but not the key-share locks that inserting a row with a foreign key to them takes, so
writing events, leases or switches never waits on a placement. Placement
locks every enabled host (fleets are tens of hosts, and the transaction is a few milliseconds),
so two placements never both take the last room on a host. On SQLite the IMMEDIATE transaction
holds the database write lock, which serialises placements the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import Sum
from django.db.models.functions import Coalesce

from config.errors import InvalidTransition, NoCapacity, NoSuitableHost
from labs.lifecycle import transition
from labs.models import Lab, LabTemplateVersion
from labs.states import LabEventName, LabState
from workers.hyperv.doctor import nesting_refusal
from workers.models import Allocation, Host, HostState


@dataclass(frozen=True)
class HostRoom:
    """What is free on a host right now, counted from the Allocation ledger."""

    host: Host
    vcpus_used: int
    memory_used_mb: int
    storage_used_gb: int

    @property
    def vcpus_free(self) -> int:
        return self.host.vcpu_capacity - self.vcpus_used

    @property
    def memory_free_mb(self) -> int:
        return self.host.memory_capacity_mb - self.memory_used_mb

    @property
    def storage_free_gb(self) -> int:
        return self.host.storage_gb - self.storage_used_gb

    def fits(self, *, vcpus: int, memory_mb: int, storage_gb: int) -> bool:
        return vcpus <= self.vcpus_free and memory_mb <= self.memory_free_mb and storage_gb <= self.storage_free_gb


def host_rooms(hosts: list[Host]) -> list[HostRoom]:
    """Free capacity of each host, with one grouped query over the ledger."""
    totals = {
        row["host_id"]: row
        for row in Allocation.objects.filter(host__in=hosts)
        .values("host_id")
        .annotate(
            vcpus=Coalesce(Sum("vcpus"), 0),
            memory=Coalesce(Sum("memory_mb"), 0),
            storage=Coalesce(Sum("storage_gb"), 0),
        )
    }
    empty = {"vcpus": 0, "memory": 0, "storage": 0}
    return [
        HostRoom(
            host,
            totals.get(host.pk, empty)["vcpus"],
            totals.get(host.pk, empty)["memory"],
            totals.get(host.pk, empty)["storage"],
        )
        for host in hosts
    ]


def host_refusal(host: Host, config_version: str) -> str | None:
    """Why ``host`` cannot run a nested VM of ``config_version`` (from the facts its last doctor
    run stored: CPU vendor, supported versions), or None. A host never doctored is not refused."""
    facts = host.facts or {}
    return nesting_refusal(
        config_version,
        cpu_manufacturer=facts.get("cpu_manufacturer", ""),
        supported_config_versions=facts.get("supported_config_versions") or (),
    )


def hosts_able(hosts: list[Host], version: LabTemplateVersion) -> list[Host]:
    """The hosts on which labs of ``version`` can nest.

    Design (issue 13, item 0): placement filters hosts rather than the build choosing a version
    per host. A template version is immutable and every lab of it is the same VM, whatever host
    it lands on; a per-host version would make two labs of one version differ, and a VM could
    then not move to a host of the other vendor. The template API shows which hosts a version
    rules out (``version_host_notes``), so an author picks 9.3 or higher for a mixed fleet.
    """
    return [host for host in hosts if host_refusal(host, version.config_version) is None]


def check_some_host_able(version: LabTemplateVersion) -> None:
    """Refuse up front (NoSuitableHost, naming the version and why) when enabled hosts exist and
    none of them can nest ``version``. With no enabled host at all, labs wait for capacity."""
    hosts = list(Host.objects.filter(state=HostState.ENABLED))
    if not hosts or hosts_able(hosts, version):
        return
    reasons = sorted({host_refusal(host, version.config_version) for host in hosts})
    raise NoSuitableHost(
        f"No enabled host can run configuration version {version.config_version} with nested virtualization: "
        + "; ".join(reasons)
        + ". Revise the template's configuration version (10.0 nests on Intel and AMD hosts running Windows "
        "Server 2022 or 2025).",
        config_version=version.config_version,
    )


def version_host_notes(version: LabTemplateVersion, hosts: list[Host], *, with_names: bool) -> list[dict]:
    """Which of ``hosts`` this version rules out, and why. Host names only for platform admins
    (``with_names``); everyone else gets the distinct reasons."""
    notes = []
    for host in hosts:
        reason = host_refusal(host, version.config_version)
        if reason is not None:
            notes.append({"host": host.name, "reason": reason} if with_names else {"reason": reason})
    if with_names:
        return notes
    return [{"reason": reason} for reason in sorted({note["reason"] for note in notes})]


def choose_host(rooms: list[HostRoom], *, vcpus: int, memory_mb: int, storage_gb: int, policy: str) -> HostRoom | None:
    """Spread: the host with the most free memory. Pack: the one with the least that still fits."""
    fitting = [room for room in rooms if room.fits(vcpus=vcpus, memory_mb=memory_mb, storage_gb=storage_gb)]
    if not fitting:
        return None
    if policy == "pack":
        return min(fitting, key=lambda room: (room.memory_free_mb, room.host.pk))
    return max(fitting, key=lambda room: (room.memory_free_mb, -room.host.pk))


def lab_place(*, lab_id, actor=None) -> Allocation:
    """Reserve capacity for a requested lab on one enabled host, and move it to provisioning.

    Idempotent: a lab that already has an allocation gets that allocation back. Never
    overcommits memory (after the host OS reserve), keeps vCPUs within each host's ratio and
    storage within capacity, and skips draining and offline hosts. Raises NoCapacity (transient)
    when nothing fits, InvalidTransition when the lab is not waiting for placement.
    """
    with transaction.atomic():
        lab = Lab.objects.select_for_update(no_key=True, of=("self",)).select_related("template_version").get(pk=lab_id)
        existing = Allocation.objects.filter(lab=lab).select_related("host").first()
        if existing is not None:
            return existing
        if lab.state != LabState.REQUESTED:
            raise InvalidTransition(f"Lab {lab.pk} is {lab.state}, not waiting for placement.", state=lab.state)
        shape = lab.template_version
        need = {"vcpus": shape.vcpus, "memory_mb": shape.memory_mb, "storage_gb": shape.disk_gb}
        hosts = list(
            Host.objects.select_for_update(no_key=True, of=("self",)).filter(state=HostState.ENABLED).order_by("pk")
        )
        able = hosts_able(hosts, shape)
        if hosts and not able:
            check_some_host_able(shape)  # raises NoSuitableHost with the reasons: a permanent failure
        room = choose_host(host_rooms(able), policy=settings.NESTLAB_PLACEMENT_POLICY, **need)
        if room is None:
            raise NoCapacity(
                f"No enabled host has {shape.vcpus} vCPUs, {shape.memory_mb} MB of memory and "
                f"{shape.disk_gb} GB of storage free; the lab waits until capacity frees up.",
                **need,
            )
        allocation = Allocation.objects.create(lab=lab, host=room.host, **need)
        transition(lab, LabEventName.PLACE, actor=actor, host=room.host, message=f"placed on {room.host.name}")
    return allocation


def allocation_release(*, lab: Lab) -> bool:
    """Give back a lab's capacity. Call only once its VM is gone from the host. Idempotent."""
    deleted, _ = Allocation.objects.filter(lab=lab).delete()
    return bool(deleted)
