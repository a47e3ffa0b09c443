"""The doctor against hvsim hosts that pass a glance at the hardware and then fail every build
(docs/hyperv-real-host.md, section 3): each is refused, in plain words, with its fix."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tests.hyperv.conftest import connect
from workers.hyperv.doctor import check_netnats, doctor_checks
from workers.hyperv.fake import FakeDriver
from workers.hyperv.simulator.testing import run_simulator

pytestmark = pytest.mark.integration


def doctor_over(*, vm_root="C:\\Nestlab\\Labs", versions=("10.0",), adapter="Ethernet 2", **sim_options):
    with run_simulator(**sim_options) as sim:
        driver = connect(sim)
        with driver.session():
            facts = driver.host_facts([])
            readiness = driver.host_readiness(external_adapter=adapter)
        checks = doctor_checks(
            facts,
            transport="plaintext",
            use_tls=False,
            is_simulator=True,
            base_images=[],
            readiness=readiness,
            username=sim.user,
            vm_root=vm_root,
            template_versions=list(versions),
            external_adapter=adapter,
            management_addresses=[sim.host],
        )
    return {check.name: check for check in checks}


def statuses(checks):
    return {name: check.status for name, check in checks.items() if check.status != "pass"}


def test_a_healthy_simulated_host_passes_every_check_including_the_new_ones():
    checks = doctor_over()
    assert statuses(checks) == {}
    new_checks = (
        "hyperv_module",
        "dep",
        "elevation",
        "netnat",
        "host_language",
        "template_versions",
        "external_adapter",
    )
    for name in new_checks:
        assert checks[name].status == "pass", name


def test_the_role_without_its_powershell_module_fails_with_the_install_command():
    checks = doctor_over(no_hyperv_module=True)
    assert checks["hyperv_role"].status == "pass"  # the old doctor stopped here
    assert checks["hyperv_module"].status == "fail"
    assert "without its PowerShell module" in checks["hyperv_module"].detail
    assert checks["hyperv_module"].fix == "Run Install-WindowsFeature -Name Hyper-V-PowerShell on the host."


def test_windows_server_2016_on_intel_is_refused_because_the_build_needs_automatic_checkpoints():
    checks = doctor_over(os_build=14393, versions=("8.0",))
    assert checks["nesting_os"].status == "fail"
    assert "AutomaticCheckpointsEnabled" in checks["nesting_os"].detail
    assert "Windows Server 2019" in checks["nesting_os"].fix


def test_free_space_is_checked_on_the_drive_of_the_hosts_vm_root():
    small_data_drive = doctor_over(vm_root="D:\\Labs", data_disk_gb=20)  # C: has terabytes free
    assert small_data_drive["storage"].status == "fail"
    assert "20.0 GB is free on the drive of D:\\Labs" in small_data_drive["storage"].detail
    no_such_drive = doctor_over(vm_root="E:\\Labs")
    assert no_such_drive["storage"].status == "fail"
    assert "no fixed disk E:" in no_such_drive["storage"].detail
    big_data_drive = doctor_over(vm_root="D:\\Labs", data_disk_gb=2000)
    assert big_data_drive["storage"].status == "pass"


def test_a_host_that_is_a_guest_of_another_hypervisor_is_not_taken_for_a_hyperv_host():
    checks = doctor_over(foreign_hypervisor=True)
    assert checks["hypervisor_running"].status == "fail"
    assert "vmms" in checks["hypervisor_running"].detail and "Stopped" in checks["hypervisor_running"].detail
    assert "bcdedit /set hypervisorlaunchtype auto" in checks["hypervisor_running"].fix
    # Win32_Processor cannot show the hardware under another hypervisor: not a pass, not a false "off".
    assert checks["firmware_virtualization"].status == "warn"


def test_a_stopped_management_service_fails_the_hypervisor_check():
    checks = doctor_over(vmms_stopped=True)
    assert checks["hypervisor_running"].status == "fail"
    assert "Virtual Machine Management service (vmms) is Stopped" in checks["hypervisor_running"].detail


def test_template_versions_the_host_cannot_create_are_named():
    checks = doctor_over(versions=("10.0", "11.0", "12.0"))  # Windows Server 2022
    assert checks["template_versions"].status == "fail"
    assert "configuration version 11.0, 12.0" in checks["template_versions"].detail
    assert doctor_over(os_build=26100, versions=("11.0", "12.0"))["template_versions"].status == "pass"


def test_no_dep_fails():
    checks = doctor_over(no_dep=True)
    assert checks["dep"].status == "fail"
    assert "bcdedit /set nx OptOut" in checks["dep"].fix


def test_a_uac_filtered_account_fails_with_the_token_filter_fix():
    checks = doctor_over(not_elevated=True)
    assert checks["elevation"].status == "fail"
    assert "LocalAccountTokenFilterPolicy" in checks["elevation"].fix


def test_a_host_in_another_language_is_said_to_be_read_coarsely():
    checks = doctor_over(language="de-DE")
    assert checks["host_language"].status == "warn"
    assert "de-DE" in checks["host_language"].detail


def test_vlan_mode_on_the_nic_that_carries_winrm_is_refused():
    checks = doctor_over(adapter="Ethernet")  # hvsim puts the address it listens on there
    assert checks["external_adapter"].status == "fail"
    assert "127.0.0.1, the address Nestlab connects to" in checks["external_adapter"].detail
    assert "dedicated NIC" in checks["external_adapter"].fix
    assert doctor_over(adapter="SLOT 3")["external_adapter"].status == "fail"  # no such adapter


def test_more_than_one_nat_network_fails():
    readiness = FakeDriver().host_readiness()
    assert check_netnats(readiness).status == "pass"
    assert check_netnats(replace(readiness, netnats=("nestlab",))).status == "pass"
    two = check_netnats(replace(readiness, netnats=("nestlab", "docker")))
    assert two.status == "fail" and "2 NAT networks (nestlab, docker)" in two.detail
