"""The host doctor: can this host run nested labs, and if not, what exactly to change.

``doctor_checks`` is a pure function over ``HostFacts`` (gathered by ``driver.host_facts``) and
the connection settings. Each ``Check`` says pass, warn or fail in one plain sentence, with a
one-line fix. Requirements come from docs/hyperv.md ("Host requirements for nested
virtualization"); the thresholds that are advice rather than rule are constants here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from workers.hyperv.interface import HostFacts

Status = Literal["pass", "warn", "fail"]
GIB = 1024**3

#: Nested virtualization: the oldest OS build and configuration version per CPU vendor.
INTEL_MIN_BUILD = 14393  # Windows Server 2016 / Windows 10 1607
AMD_MIN_BUILD = 20348  # Windows Server 2022 (Windows 11 is 22000)
INTEL_MIN_CONFIG_VERSION = (8, 0)
AMD_MIN_CONFIG_VERSION = (9, 3)
#: Hyper-V needs 4 GB; one nested lab is commonly given 4 GB of static memory (advice).
MIN_TOTAL_MEMORY_BYTES = 4 * GIB
MIN_FREE_MEMORY_BYTES = 4 * GIB
#: Free space below which labs will soon fail to grow their differencing disks (advice).
MIN_FREE_STORAGE_BYTES = 50 * GIB
WARN_FREE_STORAGE_BYTES = 200 * GIB

_WINDOWS_RELEASES = (
    (26100, "Windows Server 2025"),
    (22000, "Windows 11"),
    (20348, "Windows Server 2022"),
    (19041, "Windows 10 2004 / Windows Server 2004"),
    (17763, "Windows Server 2019"),
    (14393, "Windows Server 2016"),
)


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str
    fix: str = ""


def windows_release(build: int) -> str:
    """A readable name for an OS build ("Windows Server 2019" for 17763)."""
    for first_build, name in _WINDOWS_RELEASES:
        if build >= first_build:
            return name if build == first_build or first_build >= 22000 else name + " or later"
    return "a Windows release older than Windows Server 2016"


def _version(text: str) -> tuple[int, int]:
    major, _, minor = text.partition(".")
    try:
        return int(major), int(minor or 0)
    except ValueError:
        return (0, 0)


def _gib(value: int) -> str:
    return f"{value / GIB:.1f} GB"


def check_hyperv_role(facts: HostFacts) -> Check:
    if facts.hyperv_installed:
        return Check("hyperv_role", "pass", "The Hyper-V role is installed.")
    return Check(
        "hyperv_role",
        "fail",
        "The Hyper-V role is not installed, so this host cannot run any VM.",
        "Run Install-WindowsFeature -Name Hyper-V -IncludeManagementTools -Restart on the host.",
    )


def _hardware_check(
    name: str, present: bool | None, hypervisor_running: bool | None, texts: tuple[str, str, str]
) -> Check:
    """``texts``: the feature's name, the sentence saying it is missing, and the fix."""
    feature, missing, fix = texts
    # With a hypervisor running, Win32_Processor reports these features as absent; the running
    # hypervisor is itself proof that they are there.
    if hypervisor_running:
        return Check(name, "pass", f"{feature}: available (a hypervisor is running on the host).")
    if present is True:
        return Check(name, "pass", f"{feature}: available.")
    if present is False:
        return Check(name, "fail", missing, fix)
    return Check(name, "warn", f"{feature}: the host did not say whether it is available.", fix)


def check_firmware_virtualization(facts: HostFacts) -> Check:
    return _hardware_check(
        "firmware_virtualization",
        facts.firmware_virtualization,
        facts.hypervisor_present,
        (
            "Virtualization in firmware",
            "Virtualization is turned off in the firmware (BIOS/UEFI), so the hypervisor cannot start.",
            "Reboot into the BIOS/UEFI setup, enable Intel VT-x / AMD-V (SVM), save, and boot again.",
        ),
    )


def check_slat(facts: HostFacts) -> Check:
    return _hardware_check(
        "slat",
        facts.slat,
        facts.hypervisor_present,
        (
            "Second Level Address Translation",
            "The CPU lacks Second Level Address Translation (Intel EPT / AMD RVI), which Hyper-V requires.",
            "Move the labs to a host whose CPU has SLAT (Intel EPT or AMD RVI/NPT).",
        ),
    )


def check_vm_monitor_mode(facts: HostFacts) -> Check:
    return _hardware_check(
        "vm_monitor_mode",
        facts.vm_monitor_mode,
        facts.hypervisor_present,
        (
            "VM Monitor Mode extensions",
            "The CPU lacks VM Monitor Mode extensions (Intel VT-x / AMD-V), which Hyper-V requires.",
            "Move the labs to a host whose CPU has Intel VT-x or AMD-V.",
        ),
    )


def check_hypervisor_running(facts: HostFacts, *, hardware_ok: bool) -> Check:
    """The role can be installed while the hypervisor does not start (launch type off, or a
    hardware problem that another check already names)."""
    if facts.hypervisor_present:
        return Check("hypervisor_running", "pass", "The hypervisor is running.")
    if facts.hypervisor_present is None:
        return Check(
            "hypervisor_running",
            "warn",
            "The host did not say whether the hypervisor is running.",
            "Check that Win32_ComputerSystem reports HypervisorPresent.",
        )
    if not facts.hyperv_installed or not hardware_ok:
        return Check(
            "hypervisor_running",
            "warn",
            "The hypervisor is not running; the failed check above is the reason.",
            "Fix the failed check above, then reboot.",
        )
    return Check(
        "hypervisor_running",
        "fail",
        "The Hyper-V role is installed but the hypervisor is not running.",
        "Run bcdedit /set hypervisorlaunchtype auto on the host and reboot.",
    )


def check_nesting_os(facts: HostFacts) -> Check:
    vendor = facts.cpu_vendor
    release = windows_release(facts.os_build)
    if vendor == "other":
        return Check(
            "nesting_os",
            "fail",
            f"The CPU manufacturer {facts.cpu_manufacturer!r} is neither Intel nor AMD;"
            " nested virtualization needs one of them.",
            "Run nested labs on an Intel or AMD host.",
        )
    needed = INTEL_MIN_BUILD if vendor == "intel" else AMD_MIN_BUILD
    vendor_name = "Intel" if vendor == "intel" else "AMD"
    if facts.os_build >= needed:
        return Check(
            "nesting_os", "pass", f"{release} (build {facts.os_build}) supports nested virtualization on {vendor_name}."
        )
    return Check(
        "nesting_os",
        "fail",
        f"This {vendor_name} host runs {release} (build {facts.os_build}); nested virtualization on {vendor_name} "
        f"needs build {needed} ({windows_release(needed)}) or later.",
        f"Upgrade the host to {windows_release(needed)} or later"
        + (", or use an Intel host." if vendor == "amd" else "."),
    )


def nesting_refusal(config_version: str, *, cpu_manufacturer: str, supported_config_versions=()) -> str | None:
    """Why a host cannot run a nested VM of ``config_version``, or None if it can (or cannot tell).

    The rules of docs/hyperv.md "Host requirements for nested virtualization" and
    hyperv-real-host.md [S1][S2][S12]: nesting needs configuration version 8.0 on Intel and 9.3 on
    AMD, and a host creates only the versions it lists (Get-VMHostSupportedVersion; Windows
    Server 2019 goes up to 9.0, so it can never nest on AMD). A host that has not said
    (``cpu_manufacturer`` empty, no version list: the doctor has not run yet) is not refused.
    Placement uses this, and the template API shows it.
    """
    wanted = _version(config_version)
    manufacturer = (cpu_manufacturer or "").lower()
    if "amd" in manufacturer and wanted < AMD_MIN_CONFIG_VERSION:
        return (
            f"AMD hosts need configuration version {AMD_MIN_CONFIG_VERSION[0]}.{AMD_MIN_CONFIG_VERSION[1]} "
            f"or higher for nested virtualization, and {config_version} is lower"
        )
    if "intel" in manufacturer and wanted < INTEL_MIN_CONFIG_VERSION:
        return (
            f"Intel hosts need configuration version {INTEL_MIN_CONFIG_VERSION[0]}.{INTEL_MIN_CONFIG_VERSION[1]} "
            f"or higher for nested virtualization, and {config_version} is lower"
        )
    supported = sorted({_version(v) for v in supported_config_versions or ()})
    if supported and wanted not in supported:
        low, high = supported[0], supported[-1]
        return (
            f"hosts that support configuration versions {low[0]}.{low[1]} to {high[0]}.{high[1]} "
            f"cannot create {config_version}"
        )
    return None


def check_config_version(facts: HostFacts) -> Check:
    vendor = facts.cpu_vendor
    needed = AMD_MIN_CONFIG_VERSION if vendor == "amd" else INTEL_MIN_CONFIG_VERSION
    needed_text = f"{needed[0]}.{needed[1]}"
    if not facts.supported_config_versions:
        return Check(
            "config_version",
            "warn",
            "The host did not list its supported VM configuration versions.",
            "Check Get-VMHostSupportedVersion on the host.",
        )
    highest = max(facts.supported_config_versions, key=_version)
    if _version(highest) >= needed:
        return Check(
            "config_version",
            "pass",
            f"VM configuration versions up to {highest} are supported; nesting needs {needed_text}.",
        )
    return Check(
        "config_version",
        "fail",
        f"The host supports VM configuration versions only up to {highest}; nested virtualization on this CPU "
        f"needs {needed_text}.",
        "Upgrade the host OS; newer releases add newer configuration versions.",
    )


def check_memory(facts: HostFacts) -> Check:
    if facts.memory_total_bytes < MIN_TOTAL_MEMORY_BYTES:
        return Check(
            "memory",
            "fail",
            f"The host has {_gib(facts.memory_total_bytes)} of memory; Hyper-V needs at least 4 GB.",
            "Add memory to the host.",
        )
    if facts.memory_free_bytes < MIN_FREE_MEMORY_BYTES:
        return Check(
            "memory",
            "warn",
            f"Only {_gib(facts.memory_free_bytes)} of {_gib(facts.memory_total_bytes)} is free; "
            "a nested lab usually needs 4 GB of static memory.",
            "Stop or move VMs, or add memory, before placing labs here.",
        )
    return Check(
        "memory", "pass", f"{_gib(facts.memory_free_bytes)} free of {_gib(facts.memory_total_bytes)} memory."
    )


def check_storage(facts: HostFacts) -> Check:
    path = facts.vhd_path or "C:\\"
    free = facts.free_bytes_on(path)
    if free is None:
        return Check(
            "storage",
            "warn",
            f"The host did not report free space for {path}.",
            "Check the drive that holds the lab disks.",
        )
    if free < MIN_FREE_STORAGE_BYTES:
        status: Status = "fail"
    elif free < WARN_FREE_STORAGE_BYTES:
        status = "warn"
    else:
        return Check("storage", "pass", f"{_gib(free)} free on the drive of {path}.")
    return Check(
        "storage",
        status,
        f"Only {_gib(free)} is free on the drive of {path}; lab disks grow as labs run.",
        "Free space or add storage on that drive, or move VirtualHardDiskPath (Set-VMHost).",
    )


def check_base_images(facts: HostFacts, base_images: list[str], *, error: str | None = None) -> Check:
    """``error``: why the images could not be looked up at all (the host failed the lookup)."""
    fix = "Copy each missing base image to that path on the host (labs are differencing disks over it)."
    if not base_images:
        return Check("base_images", "pass", "No base images are required for this host.")
    if error is not None:
        return Check(
            "base_images",
            "fail",
            f"The host could not check the {len(base_images)} base images: {error}",
            "Run the doctor again; if it fails the same way, check each template's base image path.",
        )
    found = {image.path: image for image in facts.base_images}
    refused = [found[path] for path in base_images if path in found and found[path].problem]
    missing = [path for path in base_images if path not in found or not (found[path].present or found[path].problem)]
    if not missing and not refused:
        return Check("base_images", "pass", f"All {len(base_images)} base images are present.")
    parts = []
    if missing:
        parts.append(f"{len(missing)} of {len(base_images)} base images are missing: {', '.join(missing)}.")
    if refused:
        parts.append(
            f"{len(refused)} base image paths cannot be checked: "
            + "; ".join(f"{image.path} ({image.problem})" for image in refused)
            + "."
        )
        fix = ("Correct the base image path of the templates named above." if not missing
               else fix + " Correct the base image path of the templates whose path cannot be checked.")
    return Check("base_images", "fail", " ".join(parts), fix)


def check_winrm_transport(*, transport: str, use_tls: bool, is_simulator: bool) -> Check:
    basic = transport in ("plaintext", "ssl")
    if use_tls:
        return Check("winrm_transport", "pass", f"WinRM uses {transport} over HTTPS.")
    if basic and is_simulator:
        return Check("winrm_transport", "pass", "Basic authentication over plain HTTP is allowed for the simulator.")
    if basic:
        return Check(
            "winrm_transport",
            "fail",
            "WinRM sends Basic credentials over plain HTTP, readable by anyone on the network.",
            "Configure an HTTPS listener (port 5986) and use transport 'ssl', or use Kerberos or NTLM.",
        )
    if transport == "ntlm":
        return Check(
            "winrm_transport",
            "warn",
            "WinRM uses NTLM over HTTP; messages are encrypted, but NTLM is weak.",
            "Prefer an HTTPS listener (port 5986) or Kerberos.",
        )
    return Check("winrm_transport", "pass", f"WinRM uses {transport} with message encryption over HTTP.")


def doctor_checks(
    facts: HostFacts,
    *,
    transport: str,
    use_tls: bool,
    is_simulator: bool,
    base_images: list[str],
    base_images_error: str | None = None,
) -> list[Check]:
    """Every requirement for nested labs, checked against ``facts``, in a fixed order."""
    hardware = [check_firmware_virtualization(facts), check_slat(facts), check_vm_monitor_mode(facts)]
    hardware_ok = all(check.status != "fail" for check in hardware)
    return [
        check_hyperv_role(facts),
        *hardware,
        check_hypervisor_running(facts, hardware_ok=hardware_ok),
        check_nesting_os(facts),
        check_config_version(facts),
        check_memory(facts),
        check_storage(facts),
        check_base_images(facts, base_images, error=base_images_error),
        check_winrm_transport(transport=transport, use_tls=use_tls, is_simulator=is_simulator),
    ]
