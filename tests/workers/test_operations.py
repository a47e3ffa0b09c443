"""Worker services against in-process fake hosts: build, power, checkpoints, teardown, failure."""

import ipaddress

import pytest

from config.errors import HostBusy, LabBusy
from labs.connection import lab_connection
from labs.models import LabCheckpoint
from labs.services import lab_checkpoint, lab_delete, lab_reset, lab_restore, lab_start, lab_stop
from labs.states import LabState
from workers import tasks
from workers.hyperv.errors import HostUnreachable, NotFound
from workers.models import Allocation, HostLease, TenantSegment, TenantSwitch
from workers.services import operations
from workers.services.hostcalls import host_slot, lab_lease


def provision(lab):
    host = operations.lab_place_for_build(lab_id=lab.pk)
    operations.lab_build(lab_id=lab.pk)
    lab.refresh_from_db()
    return host


def test_a_built_lab_runs_as_a_nested_hypervisor_on_its_tenants_switch(fake_fleet, new_lab, driver_of):
    lab = new_lab()
    host = provision(lab)
    assert lab.state == LabState.RUNNING and lab.running_since is not None
    [vm] = driver_of(host).vms
    assert vm.name == lab.vm_name and vm.state == "Running" and lab.vm_id == vm.vm_id
    assert vm.expose_virtualization and not vm.dynamic_memory and vm.vcpus == 2 and vm.memory_mb == 4096
    assert vm.guards_on and vm.switch_name == "nestlab-roomy-private"
    assert vm.notes == f"nestlab:{lab.pk} tenant:roomy"
    assert "nestlab-clean" in vm.checkpoints
    steps = list(lab.events.filter(event__startswith="build.").values_list("event", flat=True))
    assert steps[0] == "build.switch" and "build.checkpoint" in steps
    assert TenantSwitch.objects.filter(host=host, name="nestlab-roomy-private").count() == 1


def test_building_twice_leaves_one_vm(fake_fleet, new_lab, driver_of):
    lab = new_lab()
    host = provision(lab)
    Allocation.objects.get(lab=lab)
    operations.lab_build(lab_id=lab.pk)  # a duplicate delivery finds the lab running and does nothing
    assert len(driver_of(host).vms) == 1


@pytest.mark.parametrize("step", ["disk", "vm", "notes", "memory", "processor", "network", "checkpoint"])
def test_a_fault_at_any_build_step_is_completed_by_the_next_run(fake_fleet, new_lab, driver_of, step):
    lab = new_lab()
    host = operations.lab_place_for_build(lab_id=lab.pk)
    driver_of(host).inject_fault(f"ensure_vm.{step}")
    with pytest.raises(HostUnreachable):
        operations.lab_build(lab_id=lab.pk)
    lab.refresh_from_db()
    assert lab.state == LabState.PROVISIONING
    operations.lab_build(lab_id=lab.pk)
    lab.refresh_from_db()
    assert lab.state == LabState.RUNNING
    assert len(driver_of(host).vms) == 1 and driver_of(host).vms[0].expose_virtualization


def test_a_permanent_failure_fails_the_lab_and_cleanup_removes_everything(fake_fleet, new_lab, driver_of):
    lab = new_lab()
    host = operations.lab_place_for_build(lab_id=lab.pk)
    driver_of(host).inject_fault("start_vm", error=NotFound("VM went away"))
    with pytest.raises(NotFound):
        operations.lab_build(lab_id=lab.pk)
    assert operations.lab_fail(lab_id=lab.pk, reason="NotFound: VM went away")
    operations.lab_cleanup(lab_id=lab.pk)
    lab.refresh_from_db()
    assert (lab.state, lab.last_error) == (LabState.FAILED, "NotFound: VM went away")
    assert driver_of(host).vms == [] and not driver_of(host).files
    assert not Allocation.objects.filter(lab=lab).exists()
    assert "nestlab-roomy-private" not in driver_of(host).switches


def test_stop_start_reset_checkpoint_and_restore(fake_fleet, new_lab, driver_of, roomy):
    _, admin = roomy
    lab = new_lab()
    host = provision(lab)
    vm = driver_of(host).vms[0]
    lab_stop(actor=admin, lab=lab)
    operations.lab_power_off(lab_id=lab.pk)
    lab.refresh_from_db()
    assert (lab.state, vm.state, lab.running_since) == (LabState.STOPPED, "Off", None)
    lab_start(actor=admin, lab=lab)
    operations.lab_power_on(lab_id=lab.pk)
    lab.refresh_from_db()
    assert (lab.state, vm.state) == (LabState.RUNNING, "Running")
    lab_checkpoint(actor=admin, lab=lab, name="before-exercise")
    operations.lab_checkpoint_run(lab_id=lab.pk, name="before-exercise", was=LabState.RUNNING)
    assert "before-exercise" in vm.checkpoints
    lab.refresh_from_db()
    lab_restore(actor=admin, lab=lab, name="before-exercise")
    operations.lab_restore_run(lab_id=lab.pk, name="before-exercise", was=LabState.RUNNING)
    lab.refresh_from_db()
    assert lab.state == LabState.RUNNING
    lab_reset(actor=admin, lab=lab)
    operations.lab_reset_run(lab_id=lab.pk, was=LabState.RUNNING)
    lab.refresh_from_db()
    assert lab.state == LabState.RUNNING
    assert LabCheckpoint.objects.filter(lab=lab).count() == 1


def test_delete_removes_the_vm_then_releases_capacity(fake_fleet, new_lab, driver_of, roomy):
    _, admin = roomy
    first, second = new_lab(), new_lab()
    with_host = [provision(first), provision(second)]
    host = with_host[0]
    assert with_host[1] != host  # spread policy: one per host
    lab_delete(actor=admin, lab=first)
    operations.lab_teardown(lab_id=first.pk)
    first.refresh_from_db()
    assert first.state == LabState.DELETED
    assert driver_of(host).vms == []
    assert not Allocation.objects.filter(lab=first).exists()
    assert "nestlab-roomy-private" not in driver_of(host).switches  # the tenant's last lab there left


def test_the_tenant_switch_stays_while_another_lab_uses_it(fake_fleet, new_lab, driver_of, roomy, settings):
    settings.NESTLAB_PLACEMENT_POLICY = "pack"
    _, admin = roomy
    first, second = new_lab(), new_lab()
    assert provision(first) == provision(second)
    host = first.host
    lab_delete(actor=admin, lab=first)
    operations.lab_teardown(lab_id=first.pk)
    assert "nestlab-roomy-private" in driver_of(host).switches
    assert driver_of(host).vms[0].switch_name == "nestlab-roomy-private"


def test_lab_scope_gives_each_lab_its_own_switch(fake_fleet, new_lab, driver_of, settings):
    settings.NESTLAB_PLACEMENT_POLICY = "pack"
    first, second = new_lab(network_scope="lab"), new_lab(network_scope="lab")
    host = provision(first)
    provision(second)
    names = {vm.switch_name for vm in driver_of(host).vms}
    assert names == {f"nestlab-lab-{first.pk.hex}", f"nestlab-lab-{second.pk.hex}"}


def test_nat_prefixes_and_vlans_are_unique_per_tenant_and_released(fake_fleet, roomy, driver_of, db):
    from labs.services import lab_request
    from tests import factories

    labs = {}
    for slug in ("nat-a", "nat-b"):
        tenant = factories.tenant(slug)
        admin = factories.member(tenant, f"{slug}-admin", "admin")
        labs[slug] = (lab_request(actor=admin, template=factories.template(tenant, "n", network_mode="nat")), admin)
    for lab, _ in labs.values():
        provision(lab)
    prefixes = dict(TenantSegment.objects.values_list("tenant__slug", "nat_prefix"))
    assert prefixes["nat-a"] != prefixes["nat-b"] and all(prefixes.values())
    lab, admin = labs["nat-a"]
    lab_delete(actor=admin, lab=lab)
    operations.lab_teardown(lab_id=lab.pk)
    assert not TenantSegment.objects.filter(tenant__slug="nat-a").exists()


def test_vlan_mode_puts_each_tenant_on_its_own_vlan(fake_fleet, driver_of, db):
    from labs.services import lab_request
    from tests import factories

    for host in fake_fleet:
        host.external_adapter = "Ethernet 2"
        host.save()
    vlans = []
    for slug in ("vl-a", "vl-b"):
        tenant = factories.tenant(slug)
        admin = factories.member(tenant, f"{slug}-admin", "admin")
        lab = lab_request(actor=admin, template=factories.template(tenant, "v", network_mode="vlan"))
        host = provision(lab)
        vlans.append(next(vm.vlan_id for vm in driver_of(host).vms if vm.name == lab.vm_name))
    assert len(set(vlans)) == 2 and all(100 <= v <= 3999 for v in vlans)


def test_host_slots_cap_parallel_operations(fake_fleet):
    host = fake_fleet[0]
    with host_slot(host, wait_s=0), host_slot(host, wait_s=0):
        with pytest.raises(HostBusy, match="already running 2 operations"):
            with host_slot(host, wait_s=0.3):
                pass
    assert HostLease.objects.filter(host=host, key__startswith="slot:", holder="").count() == 2


def test_one_worker_at_a_time_per_lab(fake_fleet, new_lab, driver_of):
    lab = new_lab()
    host = operations.lab_place_for_build(lab_id=lab.pk)
    with lab_lease(lab.pk):
        with pytest.raises(LabBusy):
            operations.lab_build(lab_id=lab.pk)
    assert driver_of(host).vms == []
    operations.lab_build(lab_id=lab.pk)
    assert len(driver_of(host).vms) == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_waiting_operation_gets_the_slot_as_soon_as_it_frees(fake_fleet):
    import threading
    import time

    from django.db import connections

    host = fake_fleet[0]
    got_it = []

    def waiter():
        try:
            with host_slot(host, wait_s=5):
                got_it.append(time.monotonic())
        finally:
            connections.close_all()

    with host_slot(host, wait_s=0), host_slot(host, wait_s=0):
        thread = threading.Thread(target=waiter)
        thread.start()
        time.sleep(0.5)
        assert got_it == []
        freed = time.monotonic()
    thread.join(5)
    assert got_it and got_it[0] - freed < 0.5


def test_the_host_is_asked_for_a_tenant_switch_only_once(fake_fleet, new_lab, driver_of, settings):
    settings.NESTLAB_PLACEMENT_POLICY = "pack"
    host = provision(new_lab())
    provision(new_lab())
    provision(new_lab())
    assert driver_of(host).calls["ensure_switch"] == 1
    assert len(driver_of(host).vms) == 3


def test_a_switch_removed_behind_nestlabs_back_is_made_again(fake_fleet, new_lab, driver_of, settings):
    settings.NESTLAB_PLACEMENT_POLICY = "pack"
    host = provision(new_lab())
    driver = driver_of(host)
    driver.remove_switch("nestlab-roomy-private", force=True)  # an operator cleaned up by hand
    lab = new_lab()
    operations.lab_place_for_build(lab_id=lab.pk)
    operations.lab_build(lab_id=lab.pk)  # the VM step finds no switch; the build asks the host again
    lab.refresh_from_db()
    assert lab.state == LabState.RUNNING and "nestlab-roomy-private" in driver.switches


def test_removing_a_checkpoint_frees_its_place(fake_fleet, new_lab, driver_of, roomy):
    from labs.services import MAX_CHECKPOINTS_PER_LAB, lab_checkpoint_remove

    _, admin = roomy
    lab = new_lab()
    host = provision(lab)
    for n in range(MAX_CHECKPOINTS_PER_LAB):
        lab_checkpoint(actor=admin, lab=lab, name=f"cp{n}")
        operations.lab_checkpoint_run(lab_id=lab.pk, name=f"cp{n}", was=LabState.RUNNING)
        lab.refresh_from_db()
    lab_checkpoint_remove(actor=admin, lab=lab, name="cp0")
    operations.lab_checkpoint_remove_run(lab_id=lab.pk, name="cp0")
    assert "cp0" not in driver_of(host).vms[0].checkpoints
    assert LabCheckpoint.objects.filter(lab=lab).count() == MAX_CHECKPOINTS_PER_LAB - 1
    lab_checkpoint(actor=admin, lab=lab, name="again")  # there is room again


def test_a_delete_during_a_build_wins_and_the_lab_ends_deleted(fake_fleet, new_lab, driver_of, roomy):
    """The build finishes after the user deleted the lab: the task leaves it to the teardown."""
    from config.errors import InvalidTransition
    from labs.services import lab_delete

    _, admin = roomy
    lab = new_lab()
    host = operations.lab_place_for_build(lab_id=lab.pk)
    real_start = driver_of(host).start_vm

    def start_then_user_deletes(name):
        real_start(name)
        lab.refresh_from_db()
        lab_delete(actor=admin, lab=lab)

    driver_of(host).start_vm = start_then_user_deletes
    with pytest.raises(InvalidTransition):
        operations.lab_build(lab_id=lab.pk)
    tasks.lab_build.apply(args=[str(lab.pk)])  # the task's view of the same race: it leaves the lab alone
    lab.refresh_from_db()
    assert lab.state == LabState.DELETING
    operations.lab_teardown(lab_id=lab.pk)
    lab.refresh_from_db()
    assert lab.state == LabState.DELETED and driver_of(host).vms == []
    assert not Allocation.objects.filter(lab=lab).exists()


def test_a_built_labs_console_names_the_vm_by_the_id_the_host_gave(fake_fleet, new_lab, driver_of):
    lab = new_lab()
    host = provision(lab)
    [vm] = driver_of(host).vms
    connection = lab_connection(lab)
    assert connection.vm_id == vm.vm_id and f"pcb:s:{vm.vm_id}\r\n" in connection.rdp


def test_nat_labs_of_two_tenants_on_one_host_share_its_one_netnat_with_a_gateway_each(fake_fleet, driver_of, db):
    from django.conf import settings

    from labs.services import lab_request
    from tests import factories

    fake_fleet[1].delete()  # every lab on hv1
    for slug in ("nat-a", "nat-b"):
        tenant = factories.tenant(slug)
        admin = factories.member(tenant, f"{slug}-admin", "admin")
        provision(lab_request(actor=admin, template=factories.template(tenant, "n", network_mode="nat")))
    fake = driver_of(fake_fleet[0])
    assert fake.host_nats == {"nestlab-nat": str(settings.NESTLAB_NAT_POOL)}
    prefixes = dict(TenantSegment.objects.values_list("tenant__slug", "nat_prefix"))
    assert fake.gateways == {
        f"nestlab-{slug}-nat": str(next(ipaddress.ip_network(prefix).hosts())) for slug, prefix in prefixes.items()
    }
    assert all(ipaddress.ip_network(prefix).subnet_of(settings.NESTLAB_NAT_POOL) for prefix in prefixes.values())
    # Each lab's port denies the pool and allows only its own tenant's segment.
    acls = {vm.switch_name: vm.acls for vm in fake.vms}
    assert acls == {
        f"nestlab-{slug}-nat": [("Deny", str(settings.NESTLAB_NAT_POOL)), ("Allow", prefix)]
        for slug, prefix in prefixes.items()
    }


def test_lab_scope_nat_labs_get_a_segment_and_gateway_each_and_give_it_back(fake_fleet, roomy, driver_of, db):
    from django.conf import settings

    from labs.services import lab_request
    from tests import factories
    from workers.models import LabSegment

    tenant, admin = roomy
    fake_fleet[1].delete()  # both labs on hv1
    template = factories.template(tenant, "own-net", network_mode="nat", network_scope="lab")
    tenant_wide = factories.template(tenant, "shared-net", network_mode="nat")
    labs = [lab_request(actor=admin, template=template) for _ in range(2)]
    shared = lab_request(actor=admin, template=tenant_wide)
    for lab in (*labs, shared):
        provision(lab)
    fake = driver_of(fake_fleet[0])
    segments = {str(lab.pk): LabSegment.objects.get(lab=lab).nat_prefix for lab in labs}
    tenant_prefix = TenantSegment.objects.get(tenant=tenant).nat_prefix
    assert len({*segments.values(), tenant_prefix}) == 3  # no two switches share a segment
    assert len(set(fake.gateways.values())) == 3
    for lab in labs:
        [vm] = [vm for vm in fake.vms if vm.name == lab.vm_name]
        assert fake.gateways[vm.switch_name] == str(next(ipaddress.ip_network(segments[str(lab.pk)]).hosts()))
        assert vm.acls == [("Deny", str(settings.NESTLAB_NAT_POOL)), ("Allow", segments[str(lab.pk)])]
    assert fake.host_nats == {"nestlab-nat": str(settings.NESTLAB_NAT_POOL)}
    lab_delete(actor=admin, lab=labs[0])
    operations.lab_teardown(lab_id=labs[0].pk)
    assert list(LabSegment.objects.values_list("lab_id", flat=True)) == [labs[1].pk]


def test_a_failed_lab_keeps_its_nat_segment_until_its_cleanup_removed_it_from_the_host(fake_fleet, roomy, db):
    # Its switch and gateway stay on the host until cleanup; handing the prefix to a new lab
    # before then would give two segments one address range on that host.
    from labs.services import lab_request
    from tests import factories
    from workers.models import LabSegment
    from workers.services.networks import segment_release_if_unused

    tenant, admin = roomy
    lab = lab_request(actor=admin, template=factories.template(tenant, "own", network_mode="nat", network_scope="lab"))
    provision(lab)
    lab_stop(actor=admin, lab=lab)  # stuck in stopping, then failed: not yet cleaned up
    assert operations.lab_fail(lab_id=lab.pk, reason="stuck")
    segment_release_if_unused(tenant)
    assert LabSegment.objects.filter(lab=lab).exists()
    operations.lab_cleanup(lab_id=lab.pk)
    assert not LabSegment.objects.filter(lab=lab).exists()
