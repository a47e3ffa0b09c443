"""The host doctor: can this host run nested labs, and if not, what exactly to change.

``doctor_checks`` is a pure function over ``HostFacts`` (gathered by ``driver.host_facts``), the
``HostReadiness`` answers (``driver.host_readiness``: module, vmms, DEP, elevation, NAT networks,
language, the external adapter) and the host's settings in Nestlab. Each ``Check`` says pass,
warn or fail in one plain sentence, with a one-line fix. Requirements come from docs/hyperv.md
("Host requirements for nested virtualization") and docs/hyperv-real-host.md (section 3); the
thresholds that are advice rather than rule are constants here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from workers.hyperv.interface import HostFacts, HostReadiness

Status = Literal["pass", "warn", "fail"]
GIB = 1024**3

#: Nested virtualization: the oldest OS build and configuration version per CPU vendor.
#: Intel nests from 14393 (Windows Server 2016), but Nestlab's build runs
#: `Set-VM -AutomaticCheckpointsEnabled`, which 2016 lacks ("A parameter cannot be found that
#: matches parameter name 'AutomaticCheckpointsEnabled'", hyperv-real-host.md [S19]); rather than
#: a second build path for a release out of mainstream support, the minimum is 2019.
INTEL_MIN_BUILD = 17763  # Windows Server 2019 / Windows 10 1809
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


def hyperv_answers(readiness: HostReadiness | None) -> bool | None:
    """Hyper-V itself answers: vmms runs and Get-VMHost works. None if the host did not say."""
    if readiness is None or (readiness.vmms_status is None and readiness.hyperv_module is None):
        return None
    return readiness.vmms_status == "Running" and not readiness.vmhost_error and readiness.hyperv_module is not False


def _hyperv_running(facts: HostFacts, readiness: HostReadiness | None) -> bool | None:
    """HypervisorPresent is true under any hypervisor, also when the host is itself a guest of
    another one [S25]; only with vmms running and Get-VMHost answering is it Hyper-V's."""
    if not facts.hypervisor_present:
        return facts.hypervisor_present
    answers = hyperv_answers(readiness)
    return True if answers is None else answers


def _foreign_aware(facts: HostFacts, readiness: HostReadiness | None) -> bool | None:
    """True: Hyper-V runs; False: a hypervisor is present but it is not Hyper-V's; else None."""
    if not facts.hypervisor_present:
        return None
    return _hyperv_running(facts, readiness)


def _hardware_check(
    name: str, present: bool | None, hypervisor_running: bool | None, texts: tuple[str, str, str]
) -> Check:
    """``texts``: the feature's name, the sentence saying it is missing, and the fix."""
    feature, missing, fix = texts
    # With a hypervisor running, Win32_Processor reports these features as absent; Hyper-V's
    # running hypervisor is itself proof that they are there. Under another hypervisor (False
    # with HypervisorPresent) nobody can tell from inside.
    if hypervisor_running:
        return Check(name, "pass", f"{feature}: available (a hypervisor is running on the host).")
    if hypervisor_running is False and present is False:
        return Check(
            name,
            "warn",
            f"{feature}: cannot be read, because a hypervisor other than Hyper-V's runs (see hypervisor_running).",
            fix,
        )
    if present is True:
        return Check(name, "pass", f"{feature}: available.")
    if present is False:
        return Check(name, "fail", missing, fix)
    return Check(name, "warn", f"{feature}: the host did not say whether it is available.", fix)


def check_firmware_virtualization(facts: HostFacts, readiness: HostReadiness | None = None) -> Check:
    return _hardware_check(
        "firmware_virtualization",
        facts.firmware_virtualization,
        _foreign_aware(facts, readiness),
        (
            "Virtualization in firmware",
            "Virtualization is turned off in the firmware (BIOS/UEFI), so the hypervisor cannot start.",
            "Reboot into the BIOS/UEFI setup, enable Intel VT-x / AMD-V (SVM), save, and boot again.",
        ),
    )


def check_slat(facts: HostFacts, readiness: HostReadiness | None = None) -> Check:
    return _hardware_check(
        "slat",
        facts.slat,
        _foreign_aware(facts, readiness),
        (
            "Second Level Address Translation",
            "The CPU lacks Second Level Address Translation (Intel EPT / AMD RVI), which Hyper-V requires.",
            "Move the labs to a host whose CPU has SLAT (Intel EPT or AMD RVI/NPT).",
        ),
    )


def check_vm_monitor_mode(facts: HostFacts, readiness: HostReadiness | None = None) -> Check:
    return _hardware_check(
        "vm_monitor_mode",
        facts.vm_monitor_mode,
        _foreign_aware(facts, readiness),
        (
            "VM Monitor Mode extensions",
            "The CPU lacks VM Monitor Mode extensions (Intel VT-x / AMD-V), which Hyper-V requires.",
            "Move the labs to a host whose CPU has Intel VT-x or AMD-V.",
        ),
    )


def check_hypervisor_running(facts: HostFacts, *, hardware_ok: bool, readiness: HostReadiness | None = None) -> Check:
    """The role can be installed while the hypervisor does not start (launch type off, or a
    hardware problem that another check already names). HypervisorPresent alone also says yes
    on a host that is a guest of another hypervisor [S25], so with ``readiness`` it takes vmms
    running and Get-VMHost answering as well."""
    if facts.hypervisor_present and readiness is not None and not hyperv_answers(readiness):
        if readiness.hyperv_module is False:
            return Check(
                "hypervisor_running",
                "warn",
                "A hypervisor is present; whether it is Hyper-V's cannot be asked without the Hyper-V module.",
                "Fix hyperv_module above, then run the doctor again.",
            )
        why = (
            f"Get-VMHost failed: {readiness.vmhost_error}"
            if readiness.vmms_status == "Running"
            else f"the Virtual Machine Management service (vmms) is {readiness.vmms_status or 'missing'}"
        )
        return Check(
            "hypervisor_running",
            "fail",
            f"A hypervisor is present, but Hyper-V does not answer: {why}. The host may be a guest of another "
            "hypervisor, or Hyper-V's hypervisor did not start.",
            "Run bcdedit /set hypervisorlaunchtype auto on the host and reboot; then Get-Service vmms must say Running "
            "and Get-VMHost must answer. On a virtual host, expose virtualization extensions to it first.",
        )
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


def check_hyperv_module(facts: HostFacts, readiness: HostReadiness) -> Check:
    """The role without -IncludeManagementTools has no Hyper-V cmdlets, so every build fails
    with "not recognized as the name of a cmdlet" [S27]."""
    if readiness.hyperv_module:
        return Check("hyperv_module", "pass", "The Hyper-V PowerShell module answers.")
    if readiness.hyperv_module is None:
        return Check(
            "hyperv_module",
            "warn",
            "The host did not say whether the Hyper-V PowerShell module is installed.",
            "Run Get-Module -ListAvailable -Name Hyper-V on the host.",
        )
    if not facts.hyperv_installed:
        return Check(
            "hyperv_module",
            "fail",
            "The Hyper-V PowerShell module is missing (it comes with the role; see hyperv_role).",
            "Run Install-WindowsFeature -Name Hyper-V -IncludeManagementTools -Restart on the host.",
        )
    return Check(
        "hyperv_module",
        "fail",
        "The Hyper-V role is installed without its PowerShell module, so every Hyper-V command Nestlab sends fails.",
        "Run Install-WindowsFeature -Name Hyper-V-PowerShell on the host.",
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
        f"needs build {needed} ({windows_release(needed)}) or later"
        + (
            " (Nestlab's build uses Set-VM -AutomaticCheckpointsEnabled, which Windows Server 2016 lacks)."
            if vendor == "intel" and facts.os_build >= 14393
            else "."
        ),
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
    return Check("memory", "pass", f"{_gib(facts.memory_free_bytes)} free of {_gib(facts.memory_total_bytes)} memory.")


def check_storage(facts: HostFacts, vm_root: str | None = None) -> Check:
    """Free space on the drive that holds the lab disks: the host's ``vm_root`` in Nestlab (every
    lab disk goes there), or Hyper-V's default VHD folder if none is given."""
    path = vm_root or facts.vhd_path or "C:\\"
    free = facts.free_bytes_on(path)
    if free is None:
        if vm_root:
            return Check(
                "storage",
                "fail",
                f"The host has no fixed disk {path[:2].upper()}, where this host's VM root folder {path} is.",
                "Set the host's VM root folder in Nestlab to a folder on a fixed disk of the host.",
            )
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
        "Free space or add storage on that drive, or move the host's VM root folder to a bigger drive.",
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
        fix = (
            "Correct the base image path of the templates named above."
            if not missing
            else fix + " Correct the base image path of the templates whose path cannot be checked."
        )
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


def check_host_language(facts: HostFacts) -> Check:
    """The driver reads errors by category and error id and finds integration services by id,
    so a host in another language works; but its messages, and errors that carry no id, are
    text Nestlab cannot read (hyperv-real-host.md section 3, missing check (e); section 5 item 8)."""
    culture = facts.ui_culture
    if culture is None:
        return Check("host_language", "pass", "The host did not report its language.")
    if culture.lower().startswith("en"):
        return Check("host_language", "pass", f"The host's PowerShell speaks {culture}.")
    return Check(
        "host_language",
        "warn",
        f"The host's PowerShell speaks {culture}, which Nestlab cannot read: labs work (errors are told apart by "
        "category and error id, integration services by id), but host messages in lab notes stay in that "
        "language, and an error that carries no id is reported as a general host error.",
        "To have English messages, set the service account's display language: "
        "Set-WinUILanguageOverride -Language en-US, then sign that account out and in again.",
    )


def check_template_versions(facts: HostFacts, versions: list[str]) -> Check:
    """Each active template's configuration version must be one the host lists: Windows Server
    2022 takes 8.0-10.0 only, 2025 8.0-12.0 [S12]; New-VM refuses any other."""
    if not versions:
        return Check("template_versions", "pass", "No template asks for a configuration version.")
    supported = set(facts.supported_config_versions)
    if not supported:
        return Check(
            "template_versions",
            "warn",
            "The host did not list its supported VM configuration versions, so templates cannot be checked.",
            "Check Get-VMHostSupportedVersion on the host.",
        )
    refused = sorted(set(versions) - supported, key=_version)
    listed = ", ".join(sorted(supported, key=_version))
    if not refused:
        return Check("template_versions", "pass", f"Every template's configuration version is supported ({listed}).")
    return Check(
        "template_versions",
        "fail",
        f"Templates ask for configuration version {', '.join(refused)}, which this host cannot create; it "
        f"supports {listed}.",
        "Change those templates to a version this host lists, or keep their labs on other hosts.",
    )


def check_dep(readiness: HostReadiness) -> Check:
    """Hyper-V requires hardware Data Execution Prevention [S13]."""
    if readiness.dep_available:
        return Check("dep", "pass", "Data Execution Prevention is available.")
    if readiness.dep_available is None:
        return Check(
            "dep",
            "warn",
            "The host did not say whether Data Execution Prevention is available.",
            "Check Win32_OperatingSystem.DataExecutionPrevention_Available on the host.",
        )
    return Check(
        "dep",
        "fail",
        "Data Execution Prevention is not available, and Hyper-V requires it.",
        "Enable the NX / XD (Execute Disable) bit in the BIOS/UEFI setup, run bcdedit /set nx OptOut, and reboot.",
    )


def check_elevation(readiness: HostReadiness, *, username: str) -> Check:
    """A local (non-domain) administrator over WinRM gets a UAC-filtered token [S26]: the Hyper-V
    cmdlets may answer while New-NetNat, New-NetIPAddress and writes under C:\\ fail."""
    if readiness.elevated:
        return Check("elevation", "pass", f"{username} runs with full administrator rights over WinRM.")
    if readiness.elevated is None:
        return Check(
            "elevation",
            "warn",
            f"The host did not say whether {username} has full administrator rights over WinRM.",
            "Check that the account is in the host's Administrators group.",
        )
    return Check(
        "elevation",
        "fail",
        f"{username} does not hold full administrator rights over WinRM (not an administrator, or a local "
        "account whose remote token UAC filters), so NAT networks and lab folders cannot be made.",
        "Use a domain account in the host's Administrators group, or for a local administrator run: "
        "New-ItemProperty -Path HKLM:\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Policies\\System "
        "-Name LocalAccountTokenFilterPolicy -Value 1 -PropertyType DWord -Force",
    )


def check_netnats(readiness: HostReadiness) -> Check:
    """Windows supports one NAT network per host; more "places the system into an unknown
    state" [S5][S6]."""
    if readiness.netnats is None:
        return Check("netnat", "warn", "The host did not list its NAT networks.", "Run Get-NetNat on the host.")
    count = len(readiness.netnats)
    if count <= 1:
        names = f" ({readiness.netnats[0]})" if count else ""
        return Check("netnat", "pass", f"{count} NAT network{names} on the host; Windows supports one.")
    return Check(
        "netnat",
        "fail",
        f"The host has {count} NAT networks ({', '.join(readiness.netnats)}); Windows supports one per host, and "
        "more leave WinNAT in an unknown state.",
        "Remove all but one: Get-NetNat lists them; Remove-NetNat -Name '<name>' -Confirm:$false removes one.",
    )


def check_external_adapter(
    readiness: HostReadiness, *, external_adapter: str, management_addresses: list[str]
) -> Check:
    """VLAN mode makes its switch with -AllowManagementOS $false, which takes the adapter's
    addresses away from the host: on the NIC that carries WinRM that cuts Nestlab off mid-command
    (hyperv-real-host.md, section 5 item 4). The adapter must be a dedicated one."""
    if readiness.adapter_present is False:
        return Check(
            "external_adapter",
            "fail",
            f"The host has no network adapter named {external_adapter!r} for VLAN labs.",
            "Set the host's external adapter in Nestlab to a name Get-NetAdapter lists.",
        )
    shared = sorted(set(readiness.adapter_addresses) & set(management_addresses))
    if shared:
        return Check(
            "external_adapter",
            "fail",
            f"The external adapter {external_adapter!r} carries {', '.join(shared)}, the address Nestlab connects to; "
            "VLAN labs would take it from the host and cut Nestlab off.",
            "Give VLAN labs a dedicated NIC that carries no management address, and set it as this host's external "
            "adapter (Get-NetIPAddress -InterfaceAlias '<adapter>' lists an adapter's addresses).",
        )
    return Check(
        "external_adapter",
        "pass",
        f"The external adapter {external_adapter!r} does not carry the address Nestlab connects to.",
    )


def doctor_checks(
    facts: HostFacts,
    *,
    transport: str,
    use_tls: bool,
    is_simulator: bool,
    base_images: list[str],
    base_images_error: str | None = None,
    readiness: HostReadiness | None = None,
    username: str = "the service account",
    vm_root: str | None = None,
    template_versions: list[str] | None = None,
    external_adapter: str | None = None,
    management_addresses: list[str] | None = None,
) -> list[Check]:
    """Every requirement for nested labs, checked against ``facts``, in a fixed order. With
    ``readiness`` (``driver.host_readiness``) also the module, vmms, DEP, elevation, NAT
    networks, language and the external adapter against ``management_addresses`` (the addresses
    the endpoint resolves to on the worker)."""
    hardware = [
        check_firmware_virtualization(facts, readiness),
        check_slat(facts, readiness),
        check_vm_monitor_mode(facts, readiness),
    ]
    hardware_ok = all(check.status != "fail" for check in hardware)
    checks = [check_hyperv_role(facts)]
    if readiness is not None:
        checks.append(check_hyperv_module(facts, readiness))
    checks += [
        *hardware,
        check_hypervisor_running(facts, hardware_ok=hardware_ok, readiness=readiness),
        check_nesting_os(facts),
        check_config_version(facts),
        check_template_versions(facts, template_versions or []),
        check_memory(facts),
        check_storage(facts, vm_root),
        check_base_images(facts, base_images, error=base_images_error),
        check_winrm_transport(transport=transport, use_tls=use_tls, is_simulator=is_simulator),
        check_host_language(facts),
    ]
    if readiness is not None:
        checks += [
            check_dep(readiness),
            check_elevation(readiness, username=username),
            check_netnats(readiness),
        ]
        if external_adapter:
            checks.append(
                check_external_adapter(
                    readiness, external_adapter=external_adapter, management_addresses=management_addresses or []
                )
            )
    return checks
