"""FakeDriver behaves like the real driver: same interface, errors, idempotency, capacity, and a
fault hook that leaves a resumable state."""

from __future__ import annotations

import uuid
from dataclasses import replace

import pytest

from workers.hyperv.errors import (
    HostError,
    HostUnreachable,
    InsufficientResources,
    InvalidState,
    InvalidValue,
    NotFound,
)
from workers.hyperv.fake import ENSURE_VM_STEPS, FakeDriver, default_facts
from workers.hyperv.interface import CLEAN_CHECKPOINT, HypervisorDriver, SwitchSpec, VmSpec

IMAGE = "C:\\Nestlab\\Images\\win2022.vhdx"
ROOT = "C:\\Nestlab\\Labs"
LAB_ID = uuid.UUID("6f1c9a1e-8d1b-4a59-9d43-0b7f3e8c2a10")


def spec(name="lab-1", **overrides) -> VmSpec:
    values = dict(
        name=name,
        lab_id=LAB_ID,
        tenant_slug="acme",
        vcpus=2,
        memory_mb=4096,
        disk_gb=60,
        base_image_path=IMAGE,
        vm_root=ROOT,
        generation=2,
        config_version="9.0",
        switch_name="nl-acme",
        vlan_id=None,
    )
    values.update(overrides)
    return VmSpec(**values)


@pytest.fixture
def fake() -> FakeDriver:
    driver = FakeDriver(base_images={IMAGE})
    driver.ensure_switch(SwitchSpec("nl-acme", "private"))
    return driver


def test_it_satisfies_the_interface(fake):
    assert isinstance(fake, HypervisorDriver)


def test_create_reports_every_step_once_and_twice_is_harmless(fake):
    steps = []
    vm_id = fake.ensure_vm(spec(), on_step=steps.append)
    assert steps == [step for step in ENSURE_VM_STEPS if step != "vlan"]
    again = []
    assert fake.ensure_vm(spec(), on_step=again.append) == vm_id
    assert again == [] and len(fake.vms) == 1
    vm = fake.vm("lab-1")
    assert vm.expose_virtualization and not vm.dynamic_memory and vm.guards_on and CLEAN_CHECKPOINT in vm.checkpoints
    assert vm.notes == "nestlab:" + str(LAB_ID) + " tenant:acme"


@pytest.mark.parametrize("step", ENSURE_VM_STEPS)
def test_a_fault_at_any_step_leaves_a_state_a_second_run_completes(step):
    fake = FakeDriver(base_images={IMAGE})
    fake.ensure_switch(SwitchSpec("nl-acme", "private"))
    fake.inject_fault("ensure_vm." + step)
    steps = []
    try:
        fake.ensure_vm(spec(vlan_id=10), on_step=steps.append)
    except HostUnreachable:
        pass
    else:
        pytest.fail("the fault did not fire")
    assert step not in steps
    fake.ensure_vm(spec(vlan_id=10), on_step=steps.append)
    assert sorted(steps) == sorted(ENSURE_VM_STEPS)
    assert len(fake.vms) == 1 and fake.vm("lab-1").vlan_id == 10


def test_a_fault_fires_the_given_number_of_times_with_the_given_error(fake):
    fake.inject_fault("start_vm", times=2, error=HostError("boom"))
    fake.ensure_vm(spec())
    for _ in range(2):
        with pytest.raises(HostError, match="boom"):
            fake.start_vm("lab-1")
    fake.start_vm("lab-1")
    assert fake.vm("lab-1").state == "Running"
    assert fake.calls["start_vm"] == 3


def test_unknown_fault_points_are_refused(fake):
    with pytest.raises(ValueError):
        fake.inject_fault("ensure_vm.nope")
    with pytest.raises(ValueError):
        fake.inject_fault("reboot_host")


def test_create_needs_the_base_image_and_the_switch(fake):
    with pytest.raises(NotFound):
        fake.ensure_vm(spec(base_image_path="C:\\Nestlab\\Images\\missing.vhdx"))
    with pytest.raises(NotFound):
        fake.ensure_vm(spec(name="lab-2", switch_name="nl-other"))


def test_duplicate_names_are_refused_not_guessed(fake):
    fake.ensure_vm(spec())
    fake.add_foreign_vm("lab-1")
    with pytest.raises(HostError, match="2 virtual machines"):
        fake.ensure_vm(spec())
    with pytest.raises(HostError):
        fake.start_vm("lab-1")


def test_someone_elses_vm_is_never_adopted_or_deleted(fake):
    fake.add_foreign_vm("lab-1", notes="owned by the finance team")
    with pytest.raises(InvalidState):
        fake.ensure_vm(spec())
    with pytest.raises(InvalidState):
        fake.delete_vm("lab-1", vm_root=ROOT)
    assert fake.list_tagged_vms() == []


def test_power_cycle_and_capacity():
    fake = FakeDriver(base_images={IMAGE}, facts=replace(default_facts(), memory_total_bytes=10 * 1024**3))
    fake.ensure_switch(SwitchSpec("nl-acme", "private"))
    fake.ensure_vm(spec("lab-1"))
    fake.ensure_vm(spec("lab-2"))
    fake.start_vm("lab-1")
    fake.start_vm("lab-1")
    with pytest.raises(InsufficientResources) as caught:
        fake.start_vm("lab-2")
    assert caught.value.transient
    fake.stop_vm("lab-1")
    fake.start_vm("lab-2")
    assert fake.vm_status("lab-2").state == "Running" and fake.vm_status("lab-1").state == "Off"


def test_reset_keeps_the_power_state(fake):
    fake.ensure_vm(spec())
    fake.start_vm("lab-1")
    fake.reset_vm("lab-1")
    assert fake.vm("lab-1").state == "Running"
    fake.stop_vm("lab-1")
    fake.reset_vm("lab-1")
    assert fake.vm("lab-1").state == "Off"


def test_checkpoints(fake):
    fake.ensure_vm(spec())
    fake.checkpoint_vm("lab-1", "before-exam")
    fake.checkpoint_vm("lab-1", "before-exam")
    fake.restore_vm("lab-1", "before-exam")
    fake.remove_checkpoint("lab-1", "before-exam")
    fake.remove_checkpoint("lab-1", "before-exam")
    with pytest.raises(NotFound):
        fake.restore_vm("lab-1", "before-exam")
    with pytest.raises(InvalidValue):
        fake.remove_checkpoint("lab-1", CLEAN_CHECKPOINT)


def test_delete_is_idempotent_and_removes_the_disk(fake):
    fake.ensure_vm(spec())
    fake.start_vm("lab-1")
    fake.delete_vm("lab-1", vm_root=ROOT)
    fake.delete_vm("lab-1", vm_root=ROOT)
    assert fake.vms == [] and fake.files == set()
    with pytest.raises(NotFound):
        fake.vm_status("lab-1")


def test_a_switch_with_adapters_is_not_removed_unless_forced(fake):
    fake.ensure_vm(spec())
    with pytest.raises(InvalidState, match="still has 1 connected"):
        fake.remove_switch("nl-acme")
    fake.remove_switch("nl-acme", force=True)
    assert "nl-acme" not in fake.switches and fake.vm("lab-1").switch_name is None
    fake.remove_switch("nl-acme")


def test_switch_modes(fake):
    fake.ensure_switch(SwitchSpec("nl-globex", "nat", nat_prefix="10.30.0.0/24", nat_pool="10.0.0.0/8"))
    fake.ensure_switch(SwitchSpec("nl-globex", "nat", nat_prefix="10.30.0.0/24", nat_pool="10.0.0.0/8"))
    fake.ensure_switch(SwitchSpec("nl-initech", "nat", nat_prefix="10.31.0.0/24", nat_pool="10.0.0.0/8"))
    assert fake.nats == {"nl-globex": "10.30.0.0/24", "nl-initech": "10.31.0.0/24"}
    assert fake.gateways == {"nl-globex": "10.30.0.1", "nl-initech": "10.31.0.1"}
    assert fake.host_nats == {"nestlab-nat": "10.0.0.0/8"}  # one NetNat per host
    fake.remove_switch("nl-initech")
    with pytest.raises(InvalidState):
        fake.ensure_switch(SwitchSpec("nl-globex", "private"))
    fake.ensure_switch(SwitchSpec("nl-shared", "vlan", external_adapter="Ethernet 2"))
    with pytest.raises(NotFound):
        fake.ensure_switch(SwitchSpec("nl-other", "vlan", external_adapter="Ethernet 9"))
    fake.remove_switch("nl-globex")
    assert fake.nats == {}


def test_inventory_lists_only_tagged_vms(fake):
    fake.ensure_vm(spec())
    fake.add_foreign_vm("dc01")
    tagged = fake.list_tagged_vms()
    assert [(vm.name, vm.lab_id) for vm in tagged] == [("lab-1", LAB_ID)]


def test_status_console_and_usage(fake):
    fake.ensure_switch(SwitchSpec("nl-nat", "nat", nat_prefix="10.40.0.0/24", nat_pool="10.40.0.0/16"))
    fake.ensure_vm(spec(switch_name="nl-nat"))
    fake.start_vm("lab-1")
    status = fake.vm_status("lab-1")
    assert status.heartbeat == "OK" and status.ip_addresses[0].startswith("169.254.")  # WinNAT assigns none
    assert fake.grant_console("lab-1", "ACME\\student1") == status.vm_id
    assert fake.measure_vm("lab-1").average_memory_mb == 4096


def test_host_facts_report_base_images_and_free_memory(fake):
    facts = fake.host_facts([IMAGE, "C:\\Nestlab\\Images\\other.vhdx"])
    assert [image.present for image in facts.base_images] == [True, False]
    fake.ensure_vm(spec())
    fake.start_vm("lab-1")
    assert fake.host_facts([]).memory_free_bytes == facts.memory_free_bytes - 4096 * 1024**2


def test_names_are_validated_like_the_real_driver(fake):
    with pytest.raises(InvalidValue):
        fake.start_vm("lab'1")
    with pytest.raises(InvalidValue):
        fake.checkpoint_vm("lab-1", "snap.")


def test_nesting_needs_a_new_enough_host_and_version():
    amd_2019 = replace(
        default_facts(), cpu_manufacturer="AuthenticAMD", os_build=17763, supported_config_versions=("8.0", "9.0")
    )
    fake = FakeDriver(base_images={IMAGE}, facts=amd_2019)
    fake.ensure_switch(SwitchSpec("nl-acme", "private"))
    with pytest.raises(InvalidState, match="virtualization extensions"):
        fake.ensure_vm(spec())
    intel = FakeDriver(base_images={IMAGE}, facts=replace(default_facts(), supported_config_versions=("7.0", "9.0")))
    intel.ensure_switch(SwitchSpec("nl-acme", "private"))
    with pytest.raises(InvalidState, match="virtualization extensions"):
        intel.ensure_vm(spec(config_version="7.0"))
    intel.ensure_vm(spec(name="lab-2"))


def test_a_lab_on_a_shared_switch_needs_a_vlan(fake):
    fake.ensure_switch(SwitchSpec("nl-shared", "vlan", external_adapter="Ethernet 2"))
    with pytest.raises(InvalidValue, match="access VLAN"):
        fake.ensure_vm(spec(switch_name="nl-shared"))
    fake.ensure_vm(spec(switch_name="nl-shared", vlan_id=300))
