"""What a host doctor asks Windows: CIM classes, installed features.

Windows hides virtualization features from the root partition once the hypervisor runs:
Win32_Processor then reports VirtualizationFirmwareEnabled, SecondLevelAddressTranslationExtensions
and VMMonitorModeExtensions as False, and Win32_ComputerSystem.HypervisorPresent as True
(``systeminfo`` says "A hypervisor has been detected"). The simulator reproduces that, so a doctor
must read HypervisorPresent first.
"""

from __future__ import annotations

import time
from typing import Any

from ..powershell.binding import Parameter
from ..powershell.evaluator import Invocation
from ..powershell.operators import wildcard_match
from ..powershell.values import DateTime, PSObject
from . import facts
from .common import COMPUTER, cmdlet
from .model import Host

CIM = "Microsoft.Management.Infrastructure.CimInstance#root/cimv2/"
BOOT_TIME = time.time()


def _operating_system(host: Host) -> PSObject:
    config = host.config
    total_kb = config.memory_bytes // 1024
    free_kb = (config.memory_bytes - facts.HOST_RESERVED_MEMORY - host.used_memory()) // 1024
    build = config.os_build
    return PSObject(
        CIM + "Win32_OperatingSystem",
        {
            "Caption": facts.OS_CAPTIONS.get(build, f"Microsoft Windows Server (build {build})"),
            "Version": f"10.0.{build}",
            "BuildNumber": str(build),
            "CSName": config.computer_name,
            "OSArchitecture": "64-bit",
            "ProductType": 3,
            "TotalVisibleMemorySize": total_kb,
            "FreePhysicalMemory": max(0, free_kb),
            "LastBootUpTime": DateTime(BOOT_TIME),
            "Status": "OK",
            # DEP lives here, not on Win32_Processor (hyperv-real-host.md, section 3).
            "DataExecutionPrevention_Available": config.dep,
            "MUILanguages": [config.language],
        },
        display=facts.OS_CAPTIONS.get(build, ""),
    )


def _processors(host: Host) -> list[PSObject]:
    config = host.config
    hidden = config.hypervisor_present
    sockets = 2 if config.cpus >= 4 and config.cpus % 2 == 0 else 1
    rows = []
    for socket in range(sockets):
        rows.append(
            PSObject(
                CIM + "Win32_Processor",
                {
                    "DeviceID": f"CPU{socket}",
                    "Manufacturer": facts.CPU_MANUFACTURER[config.cpu_vendor],
                    "Name": facts.CPU_NAME[config.cpu_vendor],
                    "NumberOfCores": config.cpus // sockets // 2 or 1,
                    "NumberOfLogicalProcessors": config.cpus // sockets,
                    "VirtualizationFirmwareEnabled": False if hidden else config.firmware_virtualization,
                    "SecondLevelAddressTranslationExtensions": False if hidden else config.slat,
                    "VMMonitorModeExtensions": False if hidden else True,
                    "Architecture": 9,
                },
                display=f"CPU{socket}",
            )
        )
    return rows


def _computer_system(host: Host) -> PSObject:
    config = host.config
    return PSObject(
        CIM + "Win32_ComputerSystem",
        {
            "Name": config.computer_name,
            "Domain": "lab.local",
            "TotalPhysicalMemory": config.memory_bytes,
            "NumberOfLogicalProcessors": config.cpus,
            "HypervisorPresent": config.hypervisor_present,
            "Manufacturer": "Simulated",
            "Model": "hvsim",
        },
        display=config.computer_name,
    )


def _logical_disk(drive: str, size: int, free: int) -> PSObject:
    return PSObject(
        CIM + "Win32_LogicalDisk",
        {"DeviceID": drive, "DriveType": 3, "FileSystem": "NTFS", "Size": size, "FreeSpace": free, "VolumeName": ""},
        display=drive,
    )


def _logical_disks(host: Host) -> list[PSObject]:
    disks = [_logical_disk("C:", host.config.storage_gb * facts.GIB, host.free_storage())]
    if host.config.data_disk_gb:
        size = host.config.data_disk_gb * facts.GIB
        used = sum(disk.file_size for disk in host.state.disks if disk.path.upper().startswith("D:"))
        disks.append(_logical_disk("D:", size, max(0, size - used)))
    return disks


CIM_CLASSES = {
    "win32_operatingsystem": lambda host: [_operating_system(host)],
    "win32_processor": _processors,
    "win32_computersystem": lambda host: [_computer_system(host)],
    "win32_logicaldisk": _logical_disks,
}


def get_cim_instance(invocation: Invocation, host: Host) -> list[Any]:
    class_name = invocation.get("ClassName") or invocation.get("Class")
    if class_name is None:
        raise invocation.error(
            "Cannot process command because of one or more missing mandatory parameters: ClassName.",
            category="InvalidArgument",
            error_id="MissingMandatoryParameter",
            exception="ParameterBindingException",
            terminating=True,
        )
    factory = CIM_CLASSES.get(class_name.lower())
    if factory is None:
        raise invocation.error(
            "Invalid class ",
            category="MetadataError",
            error_id="HRESULT 0x80041010",
            exception="CimException",
            target=f"root/cimv2:{class_name}",
        )
    if invocation.get("Filter"):
        raise invocation.error(
            "The Hyper-V simulator does not evaluate WQL filters; filter with Where-Object.",
            category="NotImplemented",
            error_id="NotSimulated",
            exception="NotSupportedException",
            terminating=True,
        )
    return factory(host)


_FEATURES = {
    "hyper-v": ("Hyper-V", "Role"),
    "hyper-v-powershell": ("Hyper-V Module for Windows PowerShell", "Role Service"),
    "rsat-hyper-v-tools": ("Hyper-V Management Tools", "Feature"),
}


def get_windows_feature(invocation: Invocation, host: Host) -> list[Any]:
    names = invocation.get("Name")
    rows = []
    for name, (display, kind) in _FEATURES.items():
        canonical = {
            "hyper-v": "Hyper-V",
            "hyper-v-powershell": "Hyper-V-PowerShell",
            "rsat-hyper-v-tools": "RSAT-Hyper-V-Tools",
        }[name]
        if names is not None and not any(wildcard_match(canonical, pattern) for pattern in names):
            continue
        installed = host.config.hyperv_role and (name == "hyper-v" or host.config.hyperv_module)
        rows.append(
            PSObject(
                "Microsoft.Windows.ServerManager.Commands.Feature",
                {
                    "Name": canonical,
                    "DisplayName": display,
                    "Installed": installed,
                    "InstallState": facts.InstallState("Installed" if installed else "Available"),
                    "FeatureType": kind,
                    "Path": display,
                    "Depth": 1,
                },
                display=canonical,
            )
        )
    return rows


# Services a doctor asks about: hyperv-real-host.md section 3 (hypervisor_running: "Better
# signals: `Get-Service vmms` Running and `Get-VMHost` succeeding") and section 5 item 6
# ("`Get-Service vmms` plus Get-VMHost success is enough" instead of Get-WindowsFeature).
_SERVICES = {
    "vmms": ("vmms", "Hyper-V Virtual Machine Management"),
    "winrm": ("WinRM", "Windows Remote Management (WS-Management)"),
}


def get_service(invocation: Invocation, host: Host) -> list[Any]:
    rows = []
    for pattern in invocation.get("Name") or ["*"]:
        matched = False
        for key, (name, display) in _SERVICES.items():
            if key == "vmms" and not host.config.hyperv_role:
                continue  # the role brings the service
            if not wildcard_match(name, pattern):
                continue
            matched = True
            running = "Running" if key != "vmms" or host.config.vmms_running else "Stopped"
            rows.append(
                PSObject(
                    "System.ServiceProcess.ServiceController",
                    {"Name": name, "DisplayName": display, "Status": facts.ServiceStatus(running)},
                    display=name,
                )
            )
        if not matched and not any(char in pattern for char in "*?["):
            # The simulator's wording (not in the docs); scripts should not depend on it.
            invocation.write_error(
                invocation.error(
                    f"Cannot find any service with service name '{pattern}'.",
                    category="ObjectNotFound",
                    error_id="NoServiceFoundForGivenName",
                    exception="ServiceCommandException",
                    target=pattern,
                )
            )
    return rows


def get_windows_optional_feature(invocation: Invocation, host: Host) -> list[Any]:
    if not invocation.get("Online"):
        raise invocation.error(
            "Parameter set cannot be resolved using the specified named parameters.",
            category="InvalidArgument",
            error_id="AmbiguousParameterSet",
            exception="ParameterBindingException",
            terminating=True,
        )
    known = {
        "microsoft-hyper-v": "Microsoft-Hyper-V",
        "microsoft-hyper-v-management-powershell": "Microsoft-Hyper-V-Management-PowerShell",
    }
    names = invocation.get("FeatureName") or list(known.values())
    rows = []
    for name in names:
        canonical = known.get(name.lower())
        if canonical is None:
            raise invocation.error(
                f"Feature name {name} is unknown.",
                category="NotSpecified",
                error_id="Microsoft.Dism.Commands.GetWindowsOptionalFeatureCommand",
                exception="COMException",
                target=name,
            )
        rows.append(
            PSObject(
                "Microsoft.Dism.Commands.AdvancedFeatureObject",
                {
                    "FeatureName": canonical,
                    "DisplayName": "Hyper-V",
                    "Online": True,
                    "RestartRequired": 0,
                    "State": facts.FeatureState("Enabled" if host.config.hyperv_role else "Disabled"),
                },
                display=canonical,
            )
        )
    return rows


SYSTEM_CMDLETS = (
    cmdlet(
        "Get-CimInstance",
        get_cim_instance,
        (
            Parameter("ClassName", position=0, aliases=("class",)),
            Parameter("Namespace"),
            Parameter("Filter"),
            Parameter("Property", "strings"),
            COMPUTER,
        ),
        module="CimCmdlets",
        implementing_type="Microsoft.Management.Infrastructure.CimCmdlets.GetCimInstanceCommand",
    ),
    cmdlet(
        "Get-WmiObject",
        get_cim_instance,
        (
            Parameter("Class", position=0, aliases=("classname",)),
            Parameter("Namespace"),
            Parameter("Filter"),
            Parameter("Property", "strings", position=1),
            COMPUTER,
        ),
        module="",
        implementing_type="Microsoft.PowerShell.Commands.GetWmiObjectCommand",
        aliases=("gwmi",),
    ),
    cmdlet(
        "Get-WindowsFeature",
        get_windows_feature,
        (Parameter("Name", "strings", position=0), COMPUTER),
        module="ServerManager",
        implementing_type="Microsoft.Windows.ServerManager.Commands.GetWindowsFeatureCommand",
    ),
    cmdlet(
        "Get-Service",
        get_service,
        (Parameter("Name", "strings", position=0, aliases=("servicename",)), COMPUTER),
        module="Microsoft.PowerShell.Management",
        implementing_type="Microsoft.PowerShell.Commands.GetServiceCommand",
        aliases=("gsv",),
    ),
    cmdlet(
        "Get-WindowsOptionalFeature",
        get_windows_optional_feature,
        (Parameter("Online", "switch"), Parameter("FeatureName", "strings")),
        module="Dism",
        implementing_type="Microsoft.Dism.Commands.GetWindowsOptionalFeatureCommand",
    ),
)
