"""Facts about Windows and Hyper-V the simulator reproduces, kept in one place so they are easy to
correct. Values marked *unverified* are defaults a real host may contradict (see docs/hyperv.md)."""

from __future__ import annotations

import re

from ..powershell.values import enum_type

GIB = 1024**3
MIB = 1024**2

# Windows Server builds and what they call themselves.
OS_CAPTIONS = {
    14393: "Microsoft Windows Server 2016 Datacenter",
    17763: "Microsoft Windows Server 2019 Datacenter",
    20348: "Microsoft Windows Server 2022 Datacenter",
    26100: "Microsoft Windows Server 2025 Datacenter",
}

# VM configuration versions each host build can create (Get-VMHostSupportedVersion); the last is
# the default. Windows Server 2019 stops at 9.0, which is why AMD nesting (>= 9.3) is impossible there.
# Windows Server 2022 supports 8.0-10.0 and 2025 8.0-12.0, not 5.0-7.1 (hyperv-real-host.md
# section 2, SUPPORTED_VERSIONS rows, [S12]). That the last is the default is UNVERIFIED.
SUPPORTED_VERSIONS = {
    14393: ("5.0", "6.2", "7.0", "7.1", "8.0"),
    17763: ("5.0", "6.2", "7.0", "7.1", "8.0", "8.1", "8.2", "8.3", "9.0"),
    20348: ("8.0", "8.1", "8.2", "8.3", "9.0", "9.1", "9.2", "9.3", "10.0"),
    26100: (
        "8.0",
        "8.1",
        "8.2",
        "8.3",
        "9.0",
        "9.1",
        "9.2",
        "9.3",
        "10.0",
        "11.0",
        "12.0",
    ),
}

# Nested virtualization (learn.microsoft.com, "Enable nested virtualization").
NESTING_MIN_VERSION = {"intel": (8, 0), "amd": (9, 3)}
NESTING_MIN_BUILD = {"intel": 14393, "amd": 20348}

CPU_MANUFACTURER = {"intel": "GenuineIntel", "amd": "AuthenticAMD"}
CPU_NAME = {"intel": "Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz", "amd": "AMD EPYC 7543 32-Core Processor"}

# Memory the management OS keeps for itself; VMs get the rest. *unverified* (real hosts vary).
HOST_RESERVED_MEMORY = 2 * GIB
# Disk space the Windows installation itself uses on C:. *unverified*
OS_DISK_USAGE = 40 * GIB
NEW_DIFFERENCING_DISK_BYTES = 4 * MIB
NEW_DYNAMIC_DISK_BYTES = 4 * MIB
DEFAULT_MEMORY_STARTUP = 512 * MIB  # New-VM without -MemoryStartupBytes (documented)

DEFAULT_VM_PATH = r"C:\ProgramData\Microsoft\Windows\Hyper-V"
DEFAULT_VHD_PATH = r"C:\Users\Public\Documents\Hyper-V\Virtual Hard Disks"
DEFAULT_IMAGE_DIR = r"C:\NestlabImages"
# Base images a fresh host has: path -> (virtual size, file size).
DEFAULT_BASE_IMAGES = {
    DEFAULT_IMAGE_DIR + r"\win2022-base.vhdx": (127 * GIB, 14 * GIB),
    DEFAULT_IMAGE_DIR + r"\ubuntu-2404-base.vhdx": (64 * GIB, 5 * GIB),
}
OTHER_BASE_IMAGE_SIZE = (64 * GIB, 8 * GIB)

# Enum values as Windows PowerShell 5.1 serializes them.
VMState = enum_type(
    "Microsoft.HyperV.PowerShell.VMState",
    {
        "Other": 1,
        "Running": 2,
        "Off": 3,
        "Stopping": 4,
        "Saved": 6,
        "Paused": 9,
        "Starting": 10,
        "Reset": 11,
        "Saving": 32773,
        "Pausing": 32776,
        "Resuming": 32777,
        "FastSaved": 32779,
        "FastSaving": 32780,
    },
)
VMSwitchType = enum_type("Microsoft.HyperV.PowerShell.VMSwitchType", {"Private": 0, "Internal": 1, "External": 2})
# *unverified* numbering for the following enums.
CheckpointType = enum_type(
    "Microsoft.HyperV.PowerShell.CheckpointType", {"Disabled": 2, "Production": 3, "ProductionOnly": 4, "Standard": 5}
)
OnOffState = enum_type("Microsoft.HyperV.PowerShell.OnOffState", {"On": 0, "Off": 1})
VlanMode = enum_type(
    "Microsoft.HyperV.PowerShell.VMNetworkAdapterVlanMode", {"Untagged": 0, "Access": 1, "Trunk": 2, "Private": 3}
)
VhdType = enum_type("Microsoft.Vhd.PowerShell.VhdType", {"Unknown": 0, "Fixed": 2, "Dynamic": 3, "Differencing": 4})
VhdFormat = enum_type("Microsoft.Vhd.PowerShell.VhdFormat", {"Unknown": 0, "VHD": 2, "VHDX": 3, "VHDSet": 4})
# hyperv-real-host.md section 2, SnapshotType row ([S9] SnapshotType.cs).
SnapshotType = enum_type(
    "Microsoft.HyperV.PowerShell.SnapshotType",
    {
        "Standard": 0,
        "Recovery": 1,
        "Planned": 2,
        "Missing": 5,
        "Replica": 6,
        "AppConsistentReplica": 7,
        "SyncedReplica": 8,
    },
)
# hyperv-real-host.md section 2, InstallState and FeatureState rows ([S29], one third-party
# source): Removed is 5 (payload-removed features); InstallPending 2 is UNVERIFIED.
InstallState = enum_type(
    "Microsoft.Windows.ServerManager.Commands.InstallState",
    {"Available": 0, "Installed": 1, "InstallPending": 2, "Removed": 5},
)
FeatureState = enum_type(
    "Microsoft.Dism.Commands.FeatureState",
    {
        "Disabled": 0,
        "DisablePending": 1,
        "Enabled": 2,
        "EnablePending": 3,
        "Superseded": 4,
        "PartiallyInstalled": 5,
        "DisabledWithPayloadRemoved": 6,
    },
)
# .NET System.ServiceProcess.ServiceControllerStatus; the numbering is not in the docs (the
# driver stringifies Status), Running is what hyperv-real-host.md section 3 asks of vmms.
ServiceStatus = enum_type(
    "System.ServiceProcess.ServiceControllerStatus",
    {
        "Stopped": 1,
        "StartPending": 2,
        "StopPending": 3,
        "Running": 4,
        "ContinuePending": 5,
        "PausePending": 6,
        "Paused": 7,
    },
)
AclAction = enum_type("Microsoft.HyperV.PowerShell.VMNetworkAdapterAclAction", {"Allow": 1, "Deny": 2, "Meter": 3})
AclDirection = enum_type(
    "Microsoft.HyperV.PowerShell.VMNetworkAdapterAclDirection", {"Inbound": 1, "Outbound": 2, "Both": 3}
)
IntegrationServiceNames = (
    "Guest Service Interface",
    "Heartbeat",
    "Key-Value Pair Exchange",
    "Shutdown",
    "Time Synchronization",
    "VSS",
)
# The names are localised (hyperv-real-host.md section 4, "Localised names and texts", [S22]: on
# German hosts Heartbeat is "Takt"); each service's Id, "Microsoft:<VMId>\<GUID>", is not. The
# GUIDs are those real-host tooling selects by ([S10] taliesins/terraform-provider-hyperv).
INTEGRATION_SERVICE_GUIDS = {
    "Guest Service Interface": "6C09BB55-D683-4DA0-8931-C9BF705F6480",
    "Heartbeat": "84EAAE65-2F2E-45F5-9BB5-0E857DC8EB47",
    "Key-Value Pair Exchange": "2A34B1C2-FD73-4043-8A5B-DD2159BC743F",
    "Shutdown": "9F8233AC-BE49-4C79-8EE3-E7E1985B2077",
    "Time Synchronization": "2497F4DE-E9FA-4204-80E4-4B75C46419C0",
    "VSS": "5CED1297-4598-4915-A5FC-AD21BB4D02A4",
}
# PrimaryOperationalStatus: Ok is 2 as real-host scripts compare it; NoContact's number is UNVERIFIED
# (the driver stringifies it).
IntegrationStatus = enum_type(
    "Microsoft.HyperV.PowerShell.VMIntegrationComponentOperationalStatus", {"Ok": 2, "NoContact": 12}
)

# Error texts. Microsoft does not publish them; the first four are what hosts commonly print
# (docs/hyperv.md). The rest are the simulator's own wording, marked so in the README.
VM_NOT_FOUND = 'Hyper-V was unable to find a virtual machine with name "{name}".'
WRONG_STATE = "The operation cannot be performed while the virtual machine is in its current state."
# Newer hosts' wording; category FromStdErr, id OutOfMemory (hyperv-real-host.md section 2,
# NOT_ENOUGH_MEMORY row, [S20]). Older builds ended "Ran out of memory (0x8007000E)."
NOT_ENOUGH_MEMORY = (
    "'{name}' failed to start.\nNot enough memory in the system to start the virtual machine {name}."
    "\nCould not initialize memory: Not enough memory resources are available to complete this operation."
    " (0x8007000E)."
)
ALREADY_IN_STATE = "The virtual machine is already in the specified state."
HYPERVISOR_NOT_RUNNING = (
    "'{name}' failed to start.\nVirtual machine '{name}' could not be started because the hypervisor is not running."
)
SWITCH_NOT_FOUND = 'Hyper-V was unable to find a virtual switch with name "{name}".'
# hyperv-real-host.md section 2, SNAPSHOT_NOT_FOUND row ([S9] resx SnapshotNotFound), ObjectNotFound.
SNAPSHOT_NOT_FOUND = "Unable to find a snapshot matching the given criteria."
NESTING_VERSION = (
    "Cannot enable virtualization extensions for '{name}': the virtual machine configuration version "
    "{version} is lower than {minimum}, which {vendor} processors require for nested virtualization."
)
NESTING_BUILD = (
    "Cannot enable virtualization extensions for '{name}': nested virtualization on AMD processors needs "
    "Windows Server 2022 (build 20348) or later."
)
UNSUPPORTED_VERSION = "'{version}' is not a supported virtual machine configuration version on this host."
#: Hyper-V limits VM names to 100 characters; a real host refuses a longer one with this text
#: (InvalidArgument, InvalidParameter): microsoft/openvmm#1647 quotes it from New-VM.
MAX_VM_NAME = 100
NEW_VM_FAILED = (
    "Failed to create a new virtual machine.\nAn unexpected error occurred: The parameter is incorrect. (0x80070057)."
)
#: Win32 ERROR_INVALID_NAME (123), for a file or folder name Windows does not allow ("Naming
#: Files, Paths, and Namespaces": no <>:"/\|?* or control characters, no trailing dot or space,
#: and not a device name such as CON, PRN, AUX, NUL, COM0-9, LPT0-9, even with an extension).
INVALID_NAME = "The filename, directory name, or volume label syntax is incorrect."
RESERVED_DEVICE_NAMES = frozenset(
    "CON PRN AUX NUL COM0 COM1 COM2 COM3 COM4 COM5 COM6 COM7 COM8 COM9 "
    "LPT0 LPT1 LPT2 LPT3 LPT4 LPT5 LPT6 LPT7 LPT8 LPT9".split()
)
FILE_NOT_FOUND = "The system cannot find the file specified."
PATH_NOT_FOUND = "The system cannot find the path specified."
FILE_EXISTS = "The file exists."
DISK_FULL = "There is not enough space on the disk."
IN_USE = "The process cannot access the file '{path}' because it is being used by another process."


# --- hosts in another language (hvsim --language de-DE) -----------------------------------------
# Messages are localised, error ids and categories are not (hyperv-real-host.md section 5 item 8,
# [S22]). Only "Takt" comes from a real host; the other German texts are hvsim's own wording, there
# so that anything matching English text fails on such a host as it would on a real one.
GERMAN = {
    VM_NOT_FOUND: 'Hyper-V konnte keinen virtuellen Computer mit dem Namen "{name}" finden.',
    WRONG_STATE: "Der Vorgang kann im aktuellen Zustand des virtuellen Computers nicht ausgeführt werden.",
    NOT_ENOUGH_MEMORY: (
        '"{name}" konnte nicht gestartet werden.\nNicht genügend Arbeitsspeicher im System, um den virtuellen '
        "Computer {name} zu starten.\nDer Arbeitsspeicher konnte nicht initialisiert werden: Nicht genügend "
        "Speicherressourcen verfügbar, um diesen Vorgang auszuführen. (0x8007000E)."
    ),
    SNAPSHOT_NOT_FOUND: "Es wurde kein Snapshot gefunden, der den angegebenen Kriterien entspricht.",
    SWITCH_NOT_FOUND: 'Hyper-V konnte keinen virtuellen Switch mit dem Namen "{name}" finden.',
}
GERMAN_INTEGRATION_SERVICES = {
    "Guest Service Interface": "Gastdienstschnittstelle",
    "Heartbeat": "Takt",
    "Key-Value Pair Exchange": "Austausch von Schlüssel-Wert-Paaren",
    "Shutdown": "Herunterfahren des Betriebssystems",
    "Time Synchronization": "Zeitsynchronisierung",
    "VSS": "Sicherung (Volumeschattenkopie)",
}
GERMAN_STATUS = {"OK": "OK", "No Contact": "Keine Verbindung"}


def _template_pattern(template: str) -> re.Pattern[str]:
    pieces, seen = [], set()
    for index, part in enumerate(re.split(r"\{(\w+)\}", template)):
        if index % 2 == 0:
            pieces.append(re.escape(part))
        else:
            pieces.append(f"(?P={part})" if part in seen else f"(?P<{part}>.*?)")
            seen.add(part)
    return re.compile("".join(pieces), re.S)


_GERMAN_PATTERNS = [(_template_pattern(english), german) for english, german in GERMAN.items()]


def localized(message: str, language: str) -> str:
    """``message`` (one of the English texts above, filled in) as a host in ``language`` prints it."""
    if not language.lower().startswith("de"):
        return message
    for pattern, german in _GERMAN_PATTERNS:
        match = pattern.fullmatch(message)
        if match:
            return german.format(**match.groupdict())
    return message


def integration_service_name(name: str, language: str) -> str:
    return GERMAN_INTEGRATION_SERVICES.get(name, name) if language.lower().startswith("de") else name


# Generation 2 firmware ("Generation 1 or 2", hyperv-real-host.md [S14]; Set-VMFirmware in the
# cmdlet reference [S8]): a Generation 2 VM boots from a SCSI .vhdx only, gets Secure Boot on with
# the MicrosoftWindows template by default, and Linux guests need the
# MicrosoftUEFICertificateAuthority template. Generation 1 has BIOS firmware, no VMFirmware.
SECURE_BOOT_TEMPLATES = ("MicrosoftWindows", "MicrosoftUEFICertificateAuthority", "OpenSourceShieldedVM")
DEFAULT_SECURE_BOOT_TEMPLATE = "MicrosoftWindows"
#: The texts below are the simulator's own (UNVERIFIED: no public source quotes them).
GENERATION_1_FIRMWARE = "'{name}' is a generation 1 virtual machine; VMFirmware applies to generation 2 only."
GENERATION_2_VHD = (
    "Failed to add device 'Virtual Hard Disk'.\nGeneration 2 virtual machines boot only from .vhdx "
    "virtual hard disks; '{path}' is a .vhd."
)
