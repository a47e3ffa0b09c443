"""Facts about Windows and Hyper-V the simulator reproduces, kept in one place so they are easy to
correct. Values marked *unverified* are defaults a real host may contradict (see docs/hyperv.md)."""

from __future__ import annotations

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
SUPPORTED_VERSIONS = {
    14393: ("5.0", "6.2", "7.0", "7.1", "8.0"),
    17763: ("5.0", "6.2", "7.0", "7.1", "8.0", "8.1", "8.2", "8.3", "9.0"),
    20348: ("5.0", "6.2", "7.0", "7.1", "8.0", "8.1", "8.2", "8.3", "9.0", "9.1", "9.2", "9.3", "10.0"),
    26100: (
        "5.0",
        "6.2",
        "7.0",
        "7.1",
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
    ),  # *unverified* beyond 10.0
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
SnapshotType = enum_type("Microsoft.HyperV.PowerShell.SnapshotType", {"Standard": 5, "Recovery": 6, "Planned": 7})
InstallState = enum_type(
    "Microsoft.Windows.ServerManager.Commands.InstallState",
    {"Available": 0, "Installed": 1, "InstallPending": 2, "Removed": 3},
)
FeatureState = enum_type(
    "Microsoft.Dism.Commands.FeatureState",
    {"Disabled": 0, "DisabledWithPayloadRemoved": 1, "Enabled": 2, "EnablePending": 3, "DisablePending": 4},
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

# Error texts. Microsoft does not publish them; the first four are what hosts commonly print
# (docs/hyperv.md). The rest are the simulator's own wording, marked so in the README.
VM_NOT_FOUND = 'Hyper-V was unable to find a virtual machine with name "{name}".'
WRONG_STATE = "The operation cannot be performed while the virtual machine is in its current state."
NOT_ENOUGH_MEMORY = (
    "'{name}' failed to start.\nNot enough memory in the system to start the virtual machine {name}."
    "\nCould not initialize memory: Ran out of memory (0x8007000E)."
)
ALREADY_IN_STATE = "The virtual machine is already in the specified state."
HYPERVISOR_NOT_RUNNING = (
    "'{name}' failed to start.\nVirtual machine '{name}' could not be started because the hypervisor is not running."
)
SWITCH_NOT_FOUND = 'Hyper-V was unable to find a virtual switch with name "{name}".'
SNAPSHOT_NOT_FOUND = 'Hyper-V was unable to find a checkpoint with name "{name}" for virtual machine "{vm}".'
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
