"""The host doctor over constructed facts: a healthy host passes, and the three classic problem
hosts each read differently, in plain words, with a fix."""

from __future__ import annotations

from dataclasses import replace

import pytest

from workers.hyperv.doctor import doctor_checks, windows_release
from workers.hyperv.fake import default_facts
from workers.hyperv.interface import BaseImage, DiskSpace

GIB = 1024**3
IMAGE = "C:\\Nestlab\\Images\\win2022.vhdx"
HEALTHY = replace(default_facts(), base_images=(BaseImage(IMAGE, True),))


def run(facts, *, transport="ssl", use_tls=True, is_simulator=False, base_images=(IMAGE,)):
    checks = doctor_checks(
        facts, transport=transport, use_tls=use_tls, is_simulator=is_simulator, base_images=list(base_images)
    )
    return {check.name: check for check in checks}


def failures(checks):
    return {name for name, check in checks.items() if check.status == "fail"}


def test_a_healthy_intel_host_passes_everything():
    checks = run(HEALTHY)
    assert {check.status for check in checks.values()} == {"pass"}
    assert list(checks) == [
        "hyperv_role",
        "firmware_virtualization",
        "slat",
        "vm_monitor_mode",
        "hypervisor_running",
        "nesting_os",
        "config_version",
        "template_versions",
        "memory",
        "storage",
        "base_images",
        "winrm_transport",
        "host_language",
    ]


AMD_2019 = replace(
    HEALTHY,
    os_caption="Microsoft Windows Server 2019 Datacenter",
    os_build=17763,
    cpu_manufacturer="AuthenticAMD",
    cpu_name="AMD EPYC 7302 16-Core Processor",
    supported_config_versions=("5.0", "6.2", "7.0", "7.1", "8.0", "8.1", "8.2", "8.3", "9.0"),
    default_config_version="9.0",
)
FIRMWARE_OFF = replace(
    HEALTHY,
    hyperv_installed=True,
    hypervisor_present=False,
    firmware_virtualization=False,
)
MISSING_IMAGE = replace(HEALTHY, base_images=(BaseImage(IMAGE, False),))


def test_an_amd_host_on_server_2019_cannot_nest():
    checks = run(AMD_2019)
    assert failures(checks) == {"nesting_os", "config_version"}
    os_check = checks["nesting_os"]
    assert "AMD" in os_check.detail and "Windows Server 2019" in os_check.detail and "17763" in os_check.detail
    assert "20348" in os_check.detail and "Windows Server 2022" in os_check.fix
    assert "9.0" in checks["config_version"].detail and "9.3" in checks["config_version"].detail


def test_the_same_build_on_intel_nests():
    checks = run(replace(AMD_2019, cpu_manufacturer="GenuineIntel"))
    assert failures(checks) == set()


def test_a_host_with_virtualization_off_in_firmware():
    checks = run(FIRMWARE_OFF)
    assert failures(checks) == {"firmware_virtualization"}
    check = checks["firmware_virtualization"]
    assert "firmware" in check.detail.lower() and "BIOS/UEFI" in check.fix


def test_a_running_hypervisor_proves_the_hardware_features():
    # Win32_Processor reports these as False whenever a hypervisor is running.
    facts = replace(HEALTHY, hypervisor_present=True, firmware_virtualization=False, slat=False, vm_monitor_mode=False)
    assert failures(run(facts)) == set()


def test_a_host_missing_a_base_image():
    checks = run(MISSING_IMAGE)
    assert failures(checks) == {"base_images"}
    assert IMAGE in checks["base_images"].detail and "Copy" in checks["base_images"].fix


def test_the_three_problem_hosts_read_differently():
    details = [
        "; ".join(check.detail for check in run(facts).values() if check.status == "fail")
        for facts in (AMD_2019, FIRMWARE_OFF, MISSING_IMAGE)
    ]
    assert len(set(details)) == 3
    for facts in (AMD_2019, FIRMWARE_OFF, MISSING_IMAGE):
        for check in run(facts).values():
            if check.status != "pass":
                assert check.fix and "\n" not in check.fix and "\n" not in check.detail


def test_no_hyperv_role():
    checks = run(replace(HEALTHY, hyperv_installed=False))
    assert checks["hyperv_role"].status == "fail" and "Install-WindowsFeature" in checks["hyperv_role"].fix


def test_a_hypervisor_that_does_not_start():
    checks = run(replace(HEALTHY, hypervisor_present=False))
    assert failures(checks) == {"hypervisor_running"}
    assert "hypervisorlaunchtype" in checks["hypervisor_running"].fix


def test_a_hardware_problem_is_named_once():
    checks = run(FIRMWARE_OFF)
    assert checks["hypervisor_running"].status == "warn"


def test_no_slat():
    checks = run(replace(HEALTHY, hypervisor_present=False, slat=False))
    assert failures(checks) == {"slat"}


def test_unknown_hardware_facts_warn():
    checks = run(replace(HEALTHY, hypervisor_present=None, firmware_virtualization=None))
    assert checks["firmware_virtualization"].status == "warn"


def test_memory_thresholds():
    assert run(replace(HEALTHY, memory_total_bytes=2 * GIB))["memory"].status == "fail"
    assert run(replace(HEALTHY, memory_free_bytes=1 * GIB))["memory"].status == "warn"


@pytest.mark.parametrize(("free_gib", "status"), [(10, "fail"), (100, "warn"), (500, "pass")])
def test_storage_thresholds(free_gib, status):
    facts = replace(HEALTHY, disks=(DiskSpace("C:", free_gib * GIB, 1000 * GIB),))
    assert run(facts)["storage"].status == status


def test_storage_unknown_drive_warns():
    assert run(replace(HEALTHY, vhd_path="E:\\Labs"))["storage"].status == "warn"


def test_an_unknown_cpu_vendor_fails():
    assert run(replace(HEALTHY, cpu_manufacturer="VIA"))["nesting_os"].status == "fail"


@pytest.mark.parametrize(
    ("transport", "use_tls", "is_simulator", "status"),
    [
        ("ssl", True, False, "pass"),
        ("ntlm", True, False, "pass"),
        ("kerberos", False, False, "pass"),
        ("ntlm", False, False, "warn"),
        ("plaintext", False, False, "fail"),
        ("ssl", False, False, "fail"),
        ("plaintext", False, True, "pass"),
    ],
)
def test_winrm_transport_security(transport, use_tls, is_simulator, status):
    checks = run(HEALTHY, transport=transport, use_tls=use_tls, is_simulator=is_simulator)
    assert checks["winrm_transport"].status == status


@pytest.mark.parametrize(
    ("build", "name"),
    [
        (14393, "Windows Server 2016"),
        (17763, "Windows Server 2019"),
        (20348, "Windows Server 2022"),
        (26100, "Windows Server 2025"),
    ],
)
def test_release_names(build, name):
    assert windows_release(build) == name


@pytest.mark.parametrize(
    ("culture", "status"), [(None, "pass"), ("en-US", "pass"), ("en-GB", "pass"), ("de-DE", "warn"), ("fr-FR", "warn")]
)
def test_the_doctor_says_when_the_host_speaks_a_language_it_cannot_read(culture, status):
    check = run(replace(HEALTHY, ui_culture=culture))["host_language"]
    assert check.status == status
    if status == "warn":
        assert culture in check.detail and "Set-WinUILanguageOverride -Language en-US" in check.fix
