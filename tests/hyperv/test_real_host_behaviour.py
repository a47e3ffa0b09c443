"""HyperVDriver against hvsim where hvsim behaves as a real host does and an idealised one would
not (docs/hyperv-real-host.md, section 4): the checkpoint merge after Remove-VM, a graceful
shutdown still running when the power is pulled."""

from __future__ import annotations

import time
import uuid

import pytest

from tests.hyperv.conftest import ROOT, connect, vm_spec
from workers.hyperv.driver import HyperVDriver
from workers.hyperv.errors import FileInUse
from workers.hyperv.interface import SwitchSpec, VmSpec
from workers.hyperv.simulator.testing import SimHandle, run_simulator

pytestmark = pytest.mark.integration


def build_lab(driver: HyperVDriver) -> VmSpec:
    name = "t-" + uuid.uuid4().hex[:10]
    driver.ensure_switch(SwitchSpec(name="sw-" + name, mode="private"))
    spec = vm_spec(name, switch="sw-" + name)
    driver.ensure_vm(spec)  # ends with the clean checkpoint, so Remove-VM has a merge to do
    return spec


def leftovers(sim: SimHandle, spec: VmSpec) -> list[str]:
    state = sim.state()
    return [vm["name"] for vm in state["vms"] if vm["name"] == spec.name] + [
        disk["path"] for disk in state["disks"] if disk["path"].lower().startswith(spec.folder.lower())
    ]


def test_deleting_a_lab_waits_while_the_checkpoint_merge_holds_its_disk():
    with run_simulator(merge_seconds=3) as sim:
        driver = connect(sim)
        spec = build_lab(driver)
        started = time.monotonic()
        driver.delete_vm(spec.name, vm_root=ROOT)
        assert time.monotonic() - started >= 2.5  # it waited for the merge instead of failing
        assert leftovers(sim, spec) == []
        driver.delete_vm(spec.name, vm_root=ROOT)  # absent is success


def test_a_merge_that_outlasts_the_wait_is_a_transient_file_in_use_and_a_retry_finishes():
    with run_simulator(merge_seconds=6) as sim:
        driver = connect(sim, call_deadline_s=4)  # waits at most 2 s
        spec = build_lab(connect(sim))
        with pytest.raises(FileInUse) as raised:
            driver.delete_vm(spec.name, vm_root=ROOT)
        assert raised.value.transient
        assert "being used by another process" in raised.value.host_message
        assert [vm["name"] for vm in sim.state()["vms"] if vm["name"] == spec.name] == []
        time.sleep(4.5)
        driver.delete_vm(spec.name, vm_root=ROOT)  # what the task's retry does
        assert leftovers(sim, spec) == []


def test_stop_waits_for_a_guest_shutdown_it_gave_up_on_before_pulling_the_power():
    with run_simulator(shutdown_seconds=4) as sim:
        driver = connect(sim)
        spec = build_lab(driver)
        driver.start_vm(spec.name)
        started = time.monotonic()
        driver.stop_vm(spec.name, graceful_timeout_s=1)  # the guest needs 4 s; the VM is Stopping at 1 s
        elapsed = time.monotonic() - started
        assert 3.5 <= elapsed < 8, elapsed
        assert driver.vm_status(spec.name).state == "Off"
        driver.delete_vm(spec.name, vm_root=ROOT)
