import pytest
from django.db.models import Sum
from django.test import override_settings

from config.errors import NoCapacity
from labs.models import Lab
from labs.services import lab_request
from labs.states import LabState
from tests import factories
from tests.concurrency import run_at_once
from workers.models import Allocation, Host, HostState
from workers.services.placement import allocation_release, lab_place


@pytest.fixture
def big_quota_tenant(db):
    tenant = factories.tenant(
        "fleet",
        max_labs=1000,
        max_running_labs=1000,
        max_vcpus=10000,
        max_memory_mb=10_000_000,
        max_storage_gb=1_000_000,
    )
    admin = factories.member(tenant, "fleet-admin", "admin")
    return tenant, admin


def _request(tenant, admin, template):
    return lab_request(actor=admin, template=template)


def test_placement_reserves_capacity_and_moves_the_lab_on(big_quota_tenant):
    tenant, admin = big_quota_tenant
    host = factories.host("hv1")
    template = factories.template(tenant, "t", vcpus=4, memory_mb=8192, disk_gb=60)
    lab = _request(tenant, admin, template)
    allocation = lab_place(lab_id=lab.pk)
    lab.refresh_from_db()
    assert (allocation.host, allocation.vcpus, allocation.memory_mb, allocation.storage_gb) == (host, 4, 8192, 60)
    assert (lab.state, lab.host) == (LabState.PROVISIONING, host)


def test_placing_twice_returns_the_same_allocation(big_quota_tenant):
    tenant, admin = big_quota_tenant
    factories.host("hv1")
    lab = _request(tenant, admin, factories.template(tenant, "t"))
    first = lab_place(lab_id=lab.pk)
    assert lab_place(lab_id=lab.pk).pk == first.pk
    assert Allocation.objects.count() == 1


def test_memory_reserved_for_the_host_os_is_never_given_out(big_quota_tenant):
    tenant, admin = big_quota_tenant
    factories.host("hv1", memory_mb=16384, reserved_mb=4096)
    template = factories.template(tenant, "t", memory_mb=8192)
    lab_place(lab_id=_request(tenant, admin, template).pk)
    second = _request(tenant, admin, template)
    with pytest.raises(NoCapacity, match="8192 MB"):
        lab_place(lab_id=second.pk)
    second.refresh_from_db()
    assert second.state == LabState.REQUESTED and second.host is None


def test_vcpus_stay_within_the_overcommit_ratio(big_quota_tenant):
    tenant, admin = big_quota_tenant
    factories.host("hv1", cpus=4, overcommit=1)
    template = factories.template(tenant, "t", vcpus=2)
    lab_place(lab_id=_request(tenant, admin, template).pk)
    lab_place(lab_id=_request(tenant, admin, template).pk)
    with pytest.raises(NoCapacity):
        lab_place(lab_id=_request(tenant, admin, template).pk)


@pytest.mark.parametrize("state", [HostState.DRAINING, HostState.OFFLINE])
def test_draining_and_offline_hosts_take_no_labs(big_quota_tenant, state):
    tenant, admin = big_quota_tenant
    factories.host("hv1", state=state)
    usable = factories.host("hv2")
    allocation = lab_place(lab_id=_request(tenant, admin, factories.template(tenant, "t")).pk)
    assert allocation.host == usable


@pytest.mark.parametrize(("policy", "expected"), [("spread", ["hv1", "hv2", "hv1", "hv2"]), ("pack", ["hv1"] * 4)])
def test_spread_alternates_and_pack_fills_one_host(big_quota_tenant, policy, expected):
    tenant, admin = big_quota_tenant
    factories.host("hv1")
    factories.host("hv2")
    template = factories.template(tenant, "t")
    with override_settings(NESTLAB_PLACEMENT_POLICY=policy):
        chosen = [lab_place(lab_id=_request(tenant, admin, template).pk).host.name for _ in range(4)]
    assert chosen == expected


def test_released_capacity_can_be_used_again(big_quota_tenant):
    tenant, admin = big_quota_tenant
    factories.host("hv1", memory_mb=12288, reserved_mb=4096)
    template = factories.template(tenant, "t", memory_mb=8192)
    first = _request(tenant, admin, template)
    lab_place(lab_id=first.pk)
    assert allocation_release(lab=first) is True
    assert allocation_release(lab=first) is False
    assert lab_place(lab_id=_request(tenant, admin, template).pk).host.name == "hv1"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_100_concurrent_placements_over_5_hosts_never_exceed_any_capacity():
    for repetition in range(3):
        _placement_race(repetition)
        Host.objects.update(state=HostState.OFFLINE)  # the next repetition gets fresh hosts only


def _placement_race(repetition):
    tenant = factories.tenant(
        f"place-{repetition}",
        max_labs=1000,
        max_running_labs=1000,
        max_vcpus=10000,
        max_memory_mb=10_000_000,
        max_storage_gb=1_000_000,
    )
    admin = factories.member(tenant, f"place-admin-{repetition}", "admin")
    # Shapes chosen so each resource is the binding one on some host: 70 labs fit in total.
    factories.host(f"mem-{repetition}", cpus=64, memory_mb=4096 + 20 * 4096, storage_gb=10_000)
    factories.host(f"cpu-{repetition}", cpus=10, overcommit=2, memory_mb=1_000_000, storage_gb=10_000)
    factories.host(f"disk-{repetition}", cpus=64, memory_mb=1_000_000, storage_gb=15 * 40)
    factories.host(f"small-{repetition}", cpus=8, overcommit=1, memory_mb=4096 + 10 * 4096, storage_gb=10_000)
    factories.host(f"drained-{repetition}", cpus=64, memory_mb=1_000_000, storage_gb=10_000, state=HostState.DRAINING)
    template = factories.template(tenant, "t", vcpus=2, memory_mb=4096, disk_gb=40)
    labs = [lab_request(actor=admin, template=template) for _ in range(100)]

    results = run_at_once(lambda i: lab_place(lab_id=labs[i].pk), 100, threads=25)

    placed = [r for r in results if isinstance(r, Allocation)]
    assert all(isinstance(r, (Allocation, NoCapacity)) for r in results), [
        r for r in results if isinstance(r, Exception)
    ][:3]
    assert len(placed) == 20 + 10 + 15 + 4  # mem, cpu (10*2/2), disk, small (8/2)
    for host in Host.objects.filter(name__endswith=f"-{repetition}"):
        used = Allocation.objects.filter(host=host).aggregate(v=Sum("vcpus"), m=Sum("memory_mb"), s=Sum("storage_gb"))
        assert (used["v"] or 0) <= host.vcpu_capacity
        assert (used["m"] or 0) <= host.memory_capacity_mb
        assert (used["s"] or 0) <= host.storage_gb
    assert not Allocation.objects.filter(host__name=f"drained-{repetition}").exists()
    assert Lab.objects.filter(tenant=tenant, state=LabState.PROVISIONING).count() == len(placed)
