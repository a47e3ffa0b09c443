"""Tenant networks: switch names, VLAN ids and NAT prefixes, and when switches come and go.

NAT mode (issue 13, item 1). Windows supports one NAT network per host ("Multiple NAT networks
are not supported", hyperv-real-host.md [S5][S6]), so each host has exactly one NetNat,
``nestlab-nat`` over the whole NESTLAB_NAT_POOL, made by the first NAT switch that lands there
and never removed by a lab. Each tenant gets a segment of the pool (NESTLAB_NAT_PREFIX_LENGTH,
from TenantSegment), and each lab-scope lab one of its own (LabSegment); the switch's host
interface gets the segment's first address as the guests' gateway, with the segment's prefix
length, and each lab's port ACLs deny the pool and allow its own segment. Tenants do not reach each other: each
segment is its own Internal switch (no layer-2 path between them), and the host does not forward
between its vEthernet interfaces (Windows leaves IP forwarding off per interface); WinNAT only
translates traffic leaving for the external network. Whether WinNAT itself hairpins traffic from
one internal segment to another inside its prefix is UNVERIFIED without a host (see the README).
WinNAT gives guests no addresses ([S5]): a guest configures its address in its segment itself
(the gateway is the segment's .1); Nestlab does not yet hand them out (see the README).

- A tenant-scope switch is made on a host when the tenant's first lab of that mode lands there,
  and removed when its last one leaves. A lab-scope switch lives and dies with its lab.
- VLAN mode uses one shared external switch per host (infrastructure, never removed here); the
  isolation is the tenant's access VLAN.
- VLAN ids and NAT prefixes come from pools (NESTLAB_VLAN_POOL, NESTLAB_NAT_POOL), are unique
  per tenant (database unique constraints), and go back to the pool when the tenant has no
  live labs left.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from config.errors import NetworkSetupError, PoolExhausted
from labs.models import Lab, NetworkMode, NetworkScope
from labs.states import LIVE
from workers.hyperv import names as host_names
from workers.hyperv.errors import InvalidState
from workers.hyperv.interface import HypervisorDriver, SwitchSpec
from workers.models import LabSegment, TenantSegment, TenantSwitch
from workers.services.hostcalls import host_mutex

log = logging.getLogger(__name__)


def nat_prefixes() -> list[str]:
    pool = settings.NESTLAB_NAT_POOL  # parsed and checked at start-up (config/settings.py)
    return [str(net) for net in pool.subnets(new_prefix=settings.NESTLAB_NAT_PREFIX_LENGTH)]


def switch_name(lab: Lab) -> str:
    """Deterministic: the same lab always lands on the same switch name, and no two tenants (or
    per-lab networks) share one under Hyper-V's case-insensitive comparison (workers.hyperv.names)."""
    version = lab.template_version
    if version.network_mode == NetworkMode.VLAN:
        return settings.NESTLAB_EXTERNAL_SWITCH
    if version.network_scope == NetworkScope.LAB:
        return host_names.lab_switch_name(lab.pk)
    return host_names.tenant_switch_name(lab.tenant.slug, version.network_mode)


#: Key of the transaction-level advisory lock that NAT prefix allocations take (PostgreSQL; SQLite's
#: IMMEDIATE transactions serialise them anyway): tenant and lab prefixes live in two tables, so no
#: single unique constraint keeps them apart.
_NAT_ALLOCATION_LOCK = 0x6E6174  # "nat"


def _lock_nat_allocations() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_NAT_ALLOCATION_LOCK])


def _nat_prefixes_taken() -> set[str]:
    return set(TenantSegment.objects.exclude(nat_prefix__isnull=True).values_list("nat_prefix", flat=True)) | set(
        LabSegment.objects.values_list("nat_prefix", flat=True)
    )


def _allocate_lab_prefix(lab: Lab) -> str:
    """The lab's own NAT prefix (network scope ``lab``), reserved once."""
    for _attempt in range(5):
        try:
            with transaction.atomic():
                existing = LabSegment.objects.filter(lab=lab).first()
                if existing is not None:
                    return existing.nat_prefix
                _lock_nat_allocations()
                taken = _nat_prefixes_taken()
                free = next((value for value in nat_prefixes() if value not in taken), None)
                if free is None:
                    raise PoolExhausted(f"No free NAT prefix is left in the pool for lab {lab.pk}.")
                return LabSegment.objects.create(lab=lab, nat_prefix=free).nat_prefix
        except IntegrityError:
            continue
    raise NetworkSetupError(f"Could not reserve a NAT prefix for lab {lab.pk}; try again.")


def _allocate(tenant, field: str, candidates) -> TenantSegment:
    for _attempt in range(5):
        try:
            with transaction.atomic():
                segment, _ = TenantSegment.objects.select_for_update(no_key=True, of=("self",)).get_or_create(
                    tenant=tenant
                )
                if getattr(segment, field) is not None:
                    return segment
                if field == "nat_prefix":
                    _lock_nat_allocations()
                    taken = _nat_prefixes_taken()
                else:
                    taken = set(
                        TenantSegment.objects.exclude(**{f"{field}__isnull": True}).values_list(field, flat=True)
                    )
                free = next((value for value in candidates if value not in taken), None)
                if free is None:
                    raise PoolExhausted(f"No free {field.replace('_', ' ')} is left in the pool for tenant {tenant}.")
                setattr(segment, field, free)
                segment.save(update_fields=[field])
                return segment
        except IntegrityError:
            continue  # another tenant took the same value at the same moment; pick again
    raise NetworkSetupError(f"Could not reserve a {field} for tenant {tenant}; try again.")


def network_prepare(lab: Lab, *, external_adapter: str) -> tuple[SwitchSpec, int | None]:
    """The switch the lab's VM joins, and its access VLAN (reserving the tenant's pool values)."""
    version = lab.template_version
    mode = version.network_mode
    name = switch_name(lab)
    vlan_id = None
    if mode == NetworkMode.VLAN:
        if not external_adapter:
            raise NetworkSetupError(
                f"Host {lab.host.name} has no external adapter set, which VLAN-mode templates need."
            )
        vlan_id = _allocate(lab.tenant, "vlan_id", settings.NESTLAB_VLAN_POOL).vlan_id
        spec = SwitchSpec(name=name, mode="vlan", external_adapter=external_adapter)
    elif mode == NetworkMode.NAT:
        if version.network_scope == NetworkScope.LAB:
            prefix = _allocate_lab_prefix(lab)  # its own switch, so its own gateway and segment
        else:
            prefix = _allocate(lab.tenant, "nat_prefix", nat_prefixes()).nat_prefix
        spec = SwitchSpec(name=name, mode="nat", nat_prefix=prefix, nat_pool=str(settings.NESTLAB_NAT_POOL))
    else:
        spec = SwitchSpec(name=name, mode="private")
    return spec, vlan_id


def switch_ensure(lab: Lab, spec: SwitchSpec, driver: HypervisorDriver) -> bool:
    """Make sure the lab's switch exists on its host, asking the host only the first time.

    Under the switch's host mutex, so two workers never create it twice (Hyper-V would make two
    switches of one name) and a release never removes it between our check and our VM joining
    it. The TenantSwitch row records that the switch was made; later labs skip the round trips.
    VLAN mode's shared external switch is ensured every time (it is not ours to record).
    Returns whether the host was asked.
    """
    if (
        spec.mode != "vlan"
        and TenantSwitch.objects.filter(host=lab.host, name=spec.name, ensured_at__isnull=False).exists()
    ):
        # Fast path without the mutex. Should a release remove the switch right after this
        # read, the VM step reports it missing and the build heals (switch_forget, ensure).
        return False
    with host_mutex(lab.host, f"switch:{spec.name}"):
        if spec.mode == "vlan":
            driver.ensure_switch(spec)
            return True
        per_lab = lab.template_version.network_scope == NetworkScope.LAB
        row, _ = TenantSwitch.objects.get_or_create(
            host=lab.host,
            name=spec.name,
            defaults={"tenant": lab.tenant, "mode": spec.mode, "lab": lab if per_lab else None},
        )
        if row.ensured_at is not None:
            return False
        if spec.mode == "nat":
            # The host's one NetNat is made by whichever NAT switch comes first: one at a time.
            with host_mutex(lab.host, "netnat"):
                driver.ensure_switch(spec)
        else:
            driver.ensure_switch(spec)
        TenantSwitch.objects.filter(pk=row.pk).update(ensured_at=timezone.now())
        return True


def switch_forget(lab: Lab, name: str) -> None:
    """Ask the host again next time: the switch was not there (removed behind Nestlab's back)."""
    TenantSwitch.objects.filter(host_id=lab.host_id, name=name).update(ensured_at=None)


def switch_release(lab: Lab, driver: HypervisorDriver) -> None:
    """After the lab's VM is gone: remove its switch if no other live lab on the host uses it.

    Idempotent. The driver refuses to remove a switch that still has adapters connected, so a lab
    that lands on the switch at this very moment keeps it.
    """
    if lab.template_version.network_mode == NetworkMode.VLAN or lab.host_id is None:
        return
    name = switch_name(lab)
    users = Lab.objects.filter(host_id=lab.host_id, tenant_id=lab.tenant_id, state__in=LIVE).exclude(pk=lab.pk)
    with host_mutex(lab.host, f"switch:{name}"):
        if (
            lab.template_version.network_scope == NetworkScope.TENANT
            and users.filter(
                template_version__network_mode=lab.template_version.network_mode,
                template_version__network_scope=NetworkScope.TENANT,
            ).exists()
        ):
            return
        try:
            driver.remove_switch(name)
        except InvalidState as exc:
            log.info("switch %s on %s kept: %s", name, lab.host_id, exc.host_message)
            return
        TenantSwitch.objects.filter(host_id=lab.host_id, name=name).delete()


def segment_release_if_unused(tenant) -> None:
    """Give the tenant's VLAN id and NAT prefix back once it has no live labs, and the NAT
    prefixes of its labs that are no longer live and gone from their host (no allocation left:
    a failed lab not yet cleaned up still has its switch and gateway there)."""
    LabSegment.objects.filter(lab__tenant=tenant, lab__allocation__isnull=True).exclude(lab__state__in=LIVE).delete()
    with transaction.atomic():
        segment = TenantSegment.objects.select_for_update(no_key=True, of=("self",)).filter(tenant=tenant).first()
        if segment is None or Lab.objects.filter(tenant=tenant, state__in=LIVE).exists():
            return
        segment.delete()
