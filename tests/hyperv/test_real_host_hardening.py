"""What a real host does that a tidy simulator would hide (hyperv-real-host.md, issue 13):
profile output, host facts, error classification and non-English hosts, against hvsim."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest

from tests.hyperv.conftest import connect, vm_spec
from workers.hyperv.doctor import doctor_checks
from workers.hyperv.errors import HostError, InsufficientResources, NotFound
from workers.hyperv.interface import SwitchSpec
from workers.hyperv.powershell import PROLOGUE
from workers.hyperv.simulator.hyperv import facts
from workers.hyperv.simulator.testing import run_simulator
from workers.hyperv.winrm_client import WinRMClient

PROFILE_NOISE = "Loading personal and system profiles took 812ms."


# --- item 6: -NoProfile -NonInteractive ----------------------------------------------------------


def test_a_host_profile_that_prints_does_not_break_the_drivers_json():
    with run_simulator(profile_output=PROFILE_NOISE) as host:
        plain = host.session().run_ps("ConvertTo-Json -InputObject 1 -Compress")
        assert plain.std_out.decode().startswith(PROFILE_NOISE)  # the profile runs without -NoProfile
        driver = connect(host)
        assert driver.list_tagged_vms() == []
        assert driver.host_facts([]).computer_name == "HV-SIM01"


def test_host_facts_do_not_wait_for_get_windowsfeature_which_can_hang():
    with run_simulator(faults=[{"kind": "hang", "cmdlet": "Get-WindowsFeature"}]) as host:
        facts = connect(host, call_deadline_s=5).host_facts([])
        assert facts.hyperv_installed is True and facts.logical_processors == 64


def test_hvsim_answers_get_service_vmms_as_the_role_brings_it():
    script = (
        "ConvertTo-Json -Compress -InputObject "
        "@(Get-Service -Name vmms -ErrorAction SilentlyContinue | ForEach-Object {$_.Status.ToString()})"
    )
    with run_simulator() as host:
        assert host.session().run_ps(script).std_out.strip() == b'["Running"]'
    with run_simulator(no_hyperv_role=True) as host:
        assert host.session().run_ps(script).std_out.strip() == b"[]"
        assert connect(host).host_facts([]).hyperv_installed is False


@pytest.mark.parametrize("count", [1, 400])
def test_host_facts_fit_the_command_line_however_many_base_images(count):
    images = [f"C:\\NestlabImages\\course-{n:04}-with-a-long-descriptive-name.vhdx" for n in range(count)]
    with run_simulator() as host:
        facts = connect(host).host_facts(images)
    assert [image.path for image in facts.base_images] == images
    assert not any(image.present for image in facts.base_images)


# --- hvsim's facts (hyperv-real-host.md sections 2 and 4) ----------------------------------------


def test_hvsim_prints_what_a_real_host_prints(unique):
    with run_simulator(memory_mb=8192) as host:
        session = host.session()
        snapshot = session.run_ps(
            f"New-VM -Name '{unique}' -NoVHD | Out-Null; Checkpoint-VM -Name '{unique}' -SnapshotName c; "
            f"Get-VMSnapshot -VMName '{unique}' | Select-Object SnapshotType | ConvertTo-Json -Compress"
        )
        assert snapshot.std_out.strip() == b'{"SnapshotType":0}'  # Standard is 0, not 5
        nested = session.run_ps("$x=@(1,@(2,3),4); $x | ConvertTo-Json -Compress")
        assert nested.std_out.strip() == b'[1,{"value":[2,3],"Count":2},4]'  # 5.1's wrapping [S18]
        dep = session.run_ps(
            "(Get-CimInstance Win32_OperatingSystem).DataExecutionPrevention_Available | ConvertTo-Json; "
            "$null -eq (Get-CimInstance Win32_Processor)[0].DataExecutionPrevention_Available | ConvertTo-Json"
        )
        assert dep.std_out.split() == [b"true", b"true"]
        oom = session.run_ps(f"New-VM -Name '{unique}-big' -NoVHD -MemoryStartupBytes 16GB | Start-VM")
        error = oom.std_err.decode().replace(" \n   ", "")
        assert "FromStdErr" in error and "OutOfMemory,Microsoft.HyperV.PowerShell.Commands.StartVM" in error
        assert "Not enough memory resources are available to complete this operation. (0x8007000E)." in error


def test_feature_and_install_states_number_as_the_audit_gives_them():
    assert [
        facts.FeatureState(name).value
        for name in ("Disabled", "DisablePending", "Enabled", "DisabledWithPayloadRemoved")
    ] == [0, 1, 2, 6]
    assert [facts.InstallState(name).value for name in ("Available", "Installed", "Removed")] == [0, 1, 5]


# --- item 7: error classification -----------------------------------------------------------------

INSUFFICIENT = (
    "'lab' failed to start. Unable to allocate 2048 MB of RAM: Insufficient system resources exist to complete "
    "the requested service. (0x800705AA)."
)


def test_insufficient_system_resources_at_start_is_retryable_on_another_host(unique):
    with run_simulator() as host:
        driver = connect(host)
        host.session().run_ps(f"New-VM -Name '{unique}' -NoVHD | Out-Null")
        host.add_fault("error", cmdlet="Start-VM", message=INSUFFICIENT, times=1)
        with pytest.raises(InsufficientResources) as caught:
            driver.start_vm(unique)
        assert caught.value.transient


def test_only_get_vms_own_invalid_argument_means_not_found():
    with run_simulator() as host:
        client = WinRMClient(connect(host).conn)
        with pytest.raises(NotFound) as missing_vm:
            client.run_script(PROLOGUE + "Get-VM -Name 'nope' | Out-Null")
        assert missing_vm.value.error_id == "InvalidParameter,Microsoft.HyperV.PowerShell.Commands.GetVM"
        # New-VM's "unable to find a virtual switch" is an InvalidArgument too, of New-VM: the
        # VM was never looked for, so it is not a missing VM.
        with pytest.raises(HostError) as bad_switch:
            client.run_script(PROLOGUE + "New-VM -Name 'x' -NoVHD -SwitchName 'nope' | Out-Null")
        assert type(bad_switch.value) is HostError and "InvalidArgument" in bad_switch.value.category


# --- item 8: a host in another language --------------------------------------------------------------


@pytest.fixture(scope="module")
def german():
    with run_simulator(language="de-DE", memory_mb=8192) as host:
        yield host


def test_a_german_host_prints_german_messages_with_the_same_ids(german, unique):
    answer = german.session().run_ps(f"Get-VM -Name '{unique}'")
    error = answer.std_err.decode("cp437").replace(" \n   ", "")  # pywinrm's default code page
    assert "Hyper-V konnte keinen virtuellen Computer" in error and "unable to find" not in error
    assert "InvalidParameter,Microsoft.HyperV.PowerShell.Commands.GetVM" in error
    names = german.session().run_ps(
        f"New-VM -Name '{unique}' -NoVHD | Out-Null; (Get-VMIntegrationService -VMName '{unique}').Name"
    )
    assert "Takt" in names.std_out.decode("cp437") and "Heartbeat" not in names.std_out.decode("cp437")


def test_the_driver_runs_a_lab_on_a_german_host(german, unique):
    driver = connect(german)
    driver.ensure_switch(SwitchSpec("sw-" + unique, "private"))
    driver.ensure_vm(vm_spec(unique, switch="sw-" + unique, memory_mb=2048))
    driver.start_vm(unique)
    deadline = time.monotonic() + 10
    status = driver.vm_status(unique)
    while status.heartbeat != "OK" and time.monotonic() < deadline:
        time.sleep(0.2)
        status = driver.vm_status(unique)
    assert status.heartbeat == "OK"  # found by the heartbeat's id, not the name "Heartbeat"
    with pytest.raises(NotFound):
        driver.vm_status(unique + "-gone")
    with pytest.raises(NotFound):
        driver.restore_vm(unique, "no-such-checkpoint")
    with pytest.raises(NotFound):
        driver.ensure_vm(
            replace(
                driver_spec := vm_spec(unique + "-b", switch="sw-" + unique, memory_mb=2048),
                switch_name="sw-missing",
            )
        )
    big = replace(driver_spec, name=unique + "-big", memory_mb=16384)
    driver.ensure_vm(big)
    with pytest.raises(InsufficientResources):
        driver.start_vm(big.name)
    facts_ = driver.host_facts([])
    assert facts_.ui_culture == "de-DE"
    assert {
        check.name: check.status
        for check in doctor_checks(facts_, transport="plaintext", use_tls=False, is_simulator=True, base_images=[])
    }["host_language"] == "warn"
