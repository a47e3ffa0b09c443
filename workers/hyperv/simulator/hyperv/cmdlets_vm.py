"""VM lifecycle and configuration cmdlets: New-VM, Get-VM, Set-VM, Set-VMProcessor, Set-VMMemory,
Start-VM, Stop-VM, Restart-VM, Remove-VM, checkpoints, integration services, console access and
resource metering."""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

from ..powershell.binding import Parameter
from ..powershell.evaluator import Invocation
from ..powershell.operators import wildcard_match
from ..powershell.values import PSObject, timespan, version
from . import facts
from .cmdlets_storage import create_disk
from .common import (
    COMPUTER,
    PASSTHRU,
    VM_NAME,
    VM_NAME_REQUIRED,
    VM_OBJECT,
    VMNAME,
    cmdlet,
    has_wildcard,
    target_vms,
    vm_error,
    wrong_state,
)
from .model import (
    Checkpoint,
    Host,
    NetworkAdapter,
    VirtualMachine,
    VirtualSwitch,
    attach_to_switch,
    normalize_path,
    path_key,
)
from .views import (
    firmware_view,
    hard_drive_view,
    integration_service_views,
    memory_view,
    processor_view,
    snapshot_view,
    vm_view,
)


def _version_tuple(text: str) -> tuple[int, int]:
    major, _, minor = text.partition(".")
    return int(major), int(minor or 0)


def supported_versions(host: Host) -> tuple[str, ...]:
    builds = [build for build in sorted(facts.SUPPORTED_VERSIONS) if build <= host.config.os_build]
    return facts.SUPPORTED_VERSIONS[builds[-1] if builds else min(facts.SUPPORTED_VERSIONS)]


def _vm_list(host: Host, vms: list[VirtualMachine]) -> list[PSObject]:
    now = time.time()
    return [vm_view(host, vm, now) for vm in vms]


# --- inventory --------------------------------------------------------------------------------


def get_vm(invocation: Invocation, host: Host) -> list[Any]:
    if "Name" not in invocation and "Id" not in invocation and invocation.input is None:
        return _vm_list(host, list(host.state.vms))
    if "Id" in invocation:
        vm = host.vm_by_id(str(invocation.get("Id")).lower())
        if vm is None:
            raise vm_error(
                invocation,
                f'Hyper-V was unable to find a virtual machine with id "{invocation.get("Id")}".',
                target=str(invocation.get("Id")),
                category="InvalidArgument",
                error_id="InvalidParameter",
            )
        return _vm_list(host, [vm])
    return _vm_list(host, target_vms(invocation, host))


def get_vmhost(invocation: Invocation, host: Host) -> list[Any]:
    config = host.config
    if not config.vmms_running:
        # The text a host prints when the management service is down is UNVERIFIED.
        raise vm_error(
            invocation,
            f"Hyper-V encountered an error trying to access an object on computer '{config.computer_name}' "
            "because the object was not found. The object might have been deleted. Verify that the Virtual "
            "Machine Management service on the computer is running.",
            target=config.computer_name,
            category="ObjectNotFound",
            error_id="ObjectNotFound",
        )
    return [
        PSObject(
            "Microsoft.HyperV.PowerShell.VMHost",
            {
                "ComputerName": config.computer_name,
                "Name": config.computer_name,
                "FullyQualifiedDomainName": f"{config.computer_name}.lab.local".lower(),
                "LogicalProcessorCount": config.cpus,
                "MemoryCapacity": config.memory_bytes,
                "VirtualMachinePath": facts.DEFAULT_VM_PATH,
                "VirtualHardDiskPath": facts.DEFAULT_VHD_PATH,
                "NumaSpanningEnabled": True,
                "MacAddressMinimum": "00155D000000",
                "MacAddressMaximum": "00155DFFFFFF",
                "EnableEnhancedSessionMode": False,
            },
            display=f"VMHost (Name = '{config.computer_name}')",
        )
    ]


def get_supported_versions(invocation: Invocation, host: Host) -> list[Any]:
    versions = supported_versions(host)
    rows = []
    for text in versions:
        if invocation.get("Default") and text != versions[-1]:
            continue
        name = f"Microsoft Windows Server build {host.config.os_build}" if text == versions[-1] else f"Version {text}"
        rows.append(
            PSObject(
                "Microsoft.HyperV.PowerShell.VMHostSupportedVersion",
                {
                    "Name": name,
                    "Version": version(text),
                    "IsDefault": text == versions[-1],
                },
            )
        )
    return rows


# --- creation and configuration ---------------------------------------------------------------


def valid_file_name(segment: str) -> bool:
    """Whether Windows allows ``segment`` as a file or folder name (facts.INVALID_NAME)."""
    return not (
        not segment
        or any(char in '<>:"/\\|?*' or ord(char) < 32 for char in segment)
        or segment.endswith((" ", "."))
        or segment.split(".", 1)[0].rstrip(" ").upper() in facts.RESERVED_DEVICE_NAMES
    )


def _check_new_vm_name(invocation: Invocation, name: str) -> None:
    if len(name) > facts.MAX_VM_NAME:
        raise vm_error(
            invocation, facts.NEW_VM_FAILED, target=name, category="InvalidArgument", error_id="InvalidParameter"
        )
    if "Path" in invocation and not valid_file_name(name):  # the VM gets a folder of its name
        raise vm_error(
            invocation,
            f"{facts.NEW_VM_FAILED.splitlines()[0]}\n{facts.INVALID_NAME}",
            target=name,
            category="InvalidArgument",
            error_id="InvalidParameter",
        )


def new_vm(invocation: Invocation, host: Host) -> list[Any]:
    name = invocation.get("Name", "New Virtual Machine")
    _check_new_vm_name(invocation, name)
    version_text = _configuration_version(invocation, host)
    memory = invocation.get("MemoryStartupBytes", facts.DEFAULT_MEMORY_STARTUP)
    _check_startup_memory(invocation, name, memory)
    switch = _switch_for_new_vm(invocation, host)
    drives = _disks_for_new_vm(invocation, host, name)
    if invocation.get("Generation", 1) == 2:
        vhd = next((path for path in drives if path.lower().endswith(".vhd")), None)
        if vhd is not None:
            raise vm_error(
                invocation,
                facts.GENERATION_2_VHD.format(path=vhd),
                target=name,
                category="InvalidArgument",
                error_id="InvalidParameter",
            )
    # With -Path the VM gets its own folder under it; without, it lives in the host's default path.
    vm_path = normalize_path(invocation.get("Path", facts.DEFAULT_VM_PATH))
    if "Path" in invocation:
        vm_path += "\\" + name
        host.add_directory(vm_path + "\\Virtual Machines")
    host.add_directory(vm_path)
    vm = VirtualMachine(
        id=str(uuid.uuid4()),
        name=name,
        generation=invocation.get("Generation", 1),
        version=version_text,
        path=vm_path,
        memory_startup=memory,
        memory_minimum=min(memory, facts.DEFAULT_MEMORY_STARTUP),
        hard_drives=drives,
        adapters=[NetworkAdapter(str(uuid.uuid4()).upper(), "Network Adapter", host.new_mac())],
    )
    if switch is not None:
        attach_to_switch(vm.adapters[0], switch)
    host.state.vms.append(vm)
    return [vm_view(host, vm)]


def _configuration_version(invocation: Invocation, host: Host) -> str:
    """-Version as the host spells it (9 is 9.0), or the host's default; refused if unsupported."""
    versions = supported_versions(host)
    wanted = invocation.get("Version", versions[-1])
    if wanted in versions:
        return wanted
    if re.fullmatch(r"[0-9]+(?:\.[0-9]+)?", wanted, re.ASCII):  # [version] parses ASCII digits only
        match = next((v for v in versions if _version_tuple(v) == _version_tuple(wanted)), None)
        if match is not None:
            return match
    raise vm_error(
        invocation,
        facts.UNSUPPORTED_VERSION.format(version=wanted),
        target=wanted,
        category="InvalidArgument",
        error_id="InvalidParameter",
    )


def _check_startup_memory(invocation: Invocation, name: str, memory: int) -> None:
    if memory < 32 * facts.MIB or memory % (2 * facts.MIB):
        raise vm_error(
            invocation,
            f"Failed to modify device 'Memory'.\nInvalid startup memory amount assigned for '{name}'. The amount "
            "of memory you set must be a multiple of 2 MB and at least 32 MB.",
            target=name,
            category="InvalidArgument",
            error_id="InvalidParameter",
        )


def _switch_for_new_vm(invocation: Invocation, host: Host) -> VirtualSwitch | None:
    if "SwitchName" not in invocation:
        return None
    wanted = invocation.get("SwitchName")
    switch = next((s for s in host.state.switches if s.name.lower() == wanted.lower()), None)
    if switch is None:
        raise vm_error(
            invocation,
            facts.SWITCH_NOT_FOUND.format(name=wanted),
            target=wanted,
            category="InvalidArgument",
            error_id="InvalidParameter",
        )
    return switch


def _disks_for_new_vm(invocation: Invocation, host: Host, name: str) -> list[str]:
    """-VHDPath (must exist), -NewVHDPath with -NewVHDSizeBytes (created), or -NoVHD: one at most."""
    if len([option for option in ("VHDPath", "NewVHDPath", "NoVHD") if option in invocation]) > 1:
        raise invocation.error(
            "Parameter set cannot be resolved using the specified named parameters.",
            category="InvalidArgument",
            error_id="AmbiguousParameterSet",
            exception="ParameterBindingException",
            terminating=True,
        )
    if "VHDPath" in invocation:
        disk = host.disk(invocation.get("VHDPath"))
        if disk is None:
            raise vm_error(
                invocation,
                f"Failed to add device 'Virtual Hard Disk'.\n{facts.FILE_NOT_FOUND}",
                target=name,
                category="ObjectNotFound",
                error_id="ObjectNotFound",
            )
        return [disk.path]
    if "NewVHDPath" in invocation:
        if "NewVHDSizeBytes" not in invocation:
            raise invocation.error(
                "Cannot process command because of one or more missing mandatory parameters: NewVHDSizeBytes.",
                category="InvalidArgument",
                error_id="MissingMandatoryParameter",
                exception="ParameterBindingException",
                terminating=True,
            )
        path = invocation.get("NewVHDPath")
        if not (len(path) > 2 and path[1] == ":"):  # a bare file name goes to the host's default VHD folder
            path = facts.DEFAULT_VHD_PATH + "\\" + path
        return [create_disk(invocation, host, path, size_bytes=invocation.get("NewVHDSizeBytes"), parent=None).path]
    return []


def set_vm(invocation: Invocation, host: Host) -> list[Any]:
    output = []
    for vm in target_vms(invocation, host):
        off = vm.state == "Off"
        if (
            "ProcessorCount" in invocation or "StaticMemory" in invocation or "DynamicMemory" in invocation
        ) and not off:
            raise wrong_state(invocation, vm)
        if (
            "MemoryStartupBytes" in invocation
            and not off
            and (vm.dynamic_memory or vm.expose_virtualization_extensions)
        ):
            raise wrong_state(invocation, vm)
        if "ProcessorCount" in invocation:
            _check_processor_count(invocation, host, vm, invocation.get("ProcessorCount"))
            vm.processor_count = invocation.get("ProcessorCount")
        if invocation.get("StaticMemory"):
            vm.dynamic_memory = False
        if invocation.get("DynamicMemory"):
            # Allowed on a nested VM: "enabling nested virtualization has no effect on dynamic
            # memory" (hyperv-real-host.md section 4, [S4]).
            vm.dynamic_memory = True
        for parameter, attribute in (
            ("MemoryStartupBytes", "memory_startup"),
            ("MemoryMinimumBytes", "memory_minimum"),
            ("MemoryMaximumBytes", "memory_maximum"),
            ("Notes", "notes"),
            ("AutomaticCheckpointsEnabled", "automatic_checkpoints"),
            ("CheckpointType", "checkpoint_type"),
            ("NewVMName", "name"),
        ):
            if parameter in invocation:
                setattr(vm, attribute, invocation.get(parameter))
        if invocation.get("Passthru"):
            output.append(vm_view(host, vm))
    return output


def _check_processor_count(invocation: Invocation, host: Host, vm: VirtualMachine, count: int) -> None:
    if count > host.config.cpus:
        raise vm_error(
            invocation,
            f"Failed to modify device 'Processor'.\nThe virtual machine '{vm.name}' cannot have "
            f"more virtual processors ({count}) than the host has logical processors "
            f"({host.config.cpus}).",
            target=vm.name,
            category="InvalidArgument",
            error_id="InvalidParameter",
        )


def set_vm_processor(invocation: Invocation, host: Host) -> list[Any]:
    output = []
    for vm in target_vms(invocation, host, "VMName"):
        if vm.state != "Off" and ("Count" in invocation or "ExposeVirtualizationExtensions" in invocation):
            raise wrong_state(invocation, vm)
        if "Count" in invocation:
            _check_processor_count(invocation, host, vm, invocation.get("Count"))
        if invocation.get("ExposeVirtualizationExtensions"):
            _check_nesting(invocation, host, vm)
        if "Count" in invocation:
            vm.processor_count = invocation.get("Count")
        if "ExposeVirtualizationExtensions" in invocation:
            vm.expose_virtualization_extensions = invocation.get("ExposeVirtualizationExtensions")
        if invocation.get("Passthru"):
            output.append(processor_view(vm))
    return output


def _check_nesting(invocation: Invocation, host: Host, vm: VirtualMachine) -> None:
    """Nested virtualization rules from "Enable nested virtualization" (docs/hyperv.md)."""
    vendor = host.config.cpu_vendor
    if host.config.os_build < facts.NESTING_MIN_BUILD[vendor]:
        raise vm_error(
            invocation,
            facts.NESTING_BUILD.format(name=vm.name),
            target=vm.name,
            category="InvalidOperation",
            error_id="InvalidOperation",
        )
    minimum = facts.NESTING_MIN_VERSION[vendor]
    if _version_tuple(vm.version) < minimum:
        raise vm_error(
            invocation,
            facts.NESTING_VERSION.format(
                name=vm.name,
                version=vm.version,
                minimum=f"{minimum[0]}.{minimum[1]}",
                vendor="Intel" if vendor == "intel" else "AMD",
            ),
            target=vm.name,
            category="InvalidOperation",
            error_id="InvalidOperation",
        )


def set_vm_memory(invocation: Invocation, host: Host) -> list[Any]:
    output = []
    for vm in target_vms(invocation, host, "VMName"):
        running = vm.state != "Off"
        if running and ("DynamicMemoryEnabled" in invocation or "MinimumBytes" in invocation):
            raise wrong_state(invocation, vm)
        if running and "StartupBytes" in invocation and (vm.dynamic_memory or vm.expose_virtualization_extensions):
            raise wrong_state(invocation, vm)
        for parameter, attribute in (
            ("DynamicMemoryEnabled", "dynamic_memory"),
            ("StartupBytes", "memory_startup"),
            ("MinimumBytes", "memory_minimum"),
            ("MaximumBytes", "memory_maximum"),
        ):
            if parameter in invocation:
                setattr(vm, attribute, invocation.get(parameter))
        if invocation.get("Passthru"):
            output.append(memory_view(vm))
    return output


def _firmware_vms(invocation: Invocation, host: Host) -> list[VirtualMachine]:
    vms = target_vms(invocation, host, "VMName")
    for vm in vms:
        if vm.generation != 2:
            raise vm_error(
                invocation,
                facts.GENERATION_1_FIRMWARE.format(name=vm.name),
                target=vm.name,
                category="InvalidArgument",
                error_id="InvalidParameter",
            )
    return vms


def get_vm_firmware(invocation: Invocation, host: Host) -> list[Any]:
    return [firmware_view(vm) for vm in _firmware_vms(invocation, host)]


def set_vm_firmware(invocation: Invocation, host: Host) -> list[Any]:
    """-EnableSecureBoot On|Off and -SecureBootTemplate (facts.SECURE_BOOT_TEMPLATES), on an Off
    VM (conservative: changing firmware of a running VM is refused)."""
    output = []
    for vm in _firmware_vms(invocation, host):
        if vm.state != "Off" and ("EnableSecureBoot" in invocation or "SecureBootTemplate" in invocation):
            raise wrong_state(invocation, vm)
        if "EnableSecureBoot" in invocation:
            vm.secure_boot = invocation.get("EnableSecureBoot") == "On"
        if "SecureBootTemplate" in invocation:
            vm.secure_boot_template = invocation.get("SecureBootTemplate")
        if invocation.get("Passthru"):
            output.append(firmware_view(vm))
    return output


def get_vm_processor(invocation: Invocation, host: Host) -> list[Any]:
    return [processor_view(vm) for vm in target_vms(invocation, host, "VMName")]


def get_vm_memory(invocation: Invocation, host: Host) -> list[Any]:
    return [memory_view(vm) for vm in target_vms(invocation, host, "VMName")]


def get_vm_hard_disk_drive(invocation: Invocation, host: Host) -> list[Any]:
    return [
        hard_drive_view(vm, path, index)
        for vm in target_vms(invocation, host, "VMName")
        for index, path in enumerate(vm.hard_drives)
    ]


# --- power ------------------------------------------------------------------------------------


def start_vm(invocation: Invocation, host: Host) -> list[Any]:
    output = []
    for vm in target_vms(invocation, host):
        if vm.state == "Running":
            invocation.warn(facts.ALREADY_IN_STATE)
        elif vm.state == "Stopping":
            raise wrong_state(invocation, vm)
        else:
            _start(invocation, host, vm)
        if invocation.get("Passthru"):
            output.append(vm_view(host, vm))
    return output


def _start(invocation: Invocation, host: Host, vm: VirtualMachine) -> None:
    if not host.config.hypervisor_running:
        raise vm_error(invocation, facts.HYPERVISOR_NOT_RUNNING.format(name=vm.name), target=vm.name)
    for path in vm.hard_drives:
        disk = host.disk(path)
        if disk is None or (disk.parent_path and host.disk(disk.parent_path) is None):
            raise vm_error(
                invocation,
                f"'{vm.name}' failed to start.\nSynthetic SCSI Controller: Failed to Power on "
                f"with Error '{facts.FILE_NOT_FOUND}'",
                target=vm.name,
                category="ObjectNotFound",
                error_id="ObjectNotFound",
            )
    if vm.memory_startup > host.available_memory():
        raise vm_error(
            invocation,
            facts.NOT_ENOUGH_MEMORY.format(name=vm.name),
            target=vm.name,
            category="FromStdErr",  # hyperv-real-host.md section 4, "Start-VM out of memory" [S20]
            error_id="OutOfMemory",
        )
    vm.state = "Running"
    vm.started_at = time.time()


def stop_vm(invocation: Invocation, host: Host) -> list[Any]:
    output = []
    for vm in target_vms(invocation, host):
        if vm.state == "Off":
            invocation.warn(facts.ALREADY_IN_STATE)
        elif vm.state == "Stopping":
            # A guest shutdown is still running. Whether a real host accepts -TurnOff (or another
            # Stop-VM) now is undocumented (hyperv-real-host.md, section 5 item 9): hvsim takes
            # the strict reading and refuses, so the driver must wait for it.
            raise wrong_state(invocation, vm)
        elif invocation.get("Save"):
            # Nested VMs may be saved since build 14361 (hyperv-real-host.md section 4, [S3]).
            vm.state, vm.started_at = "Saved", None
        elif not invocation.get("TurnOff") and vm.state == "Running" and host.config.shutdown_seconds > 0:
            vm.state = "Stopping"
            vm.shutdown_ends_at = time.time() + host.config.shutdown_seconds
            invocation.sleep_after = max(invocation.sleep_after, host.config.shutdown_seconds)
        else:
            vm.state, vm.started_at = "Off", None
        if invocation.get("Passthru"):
            output.append(vm_view(host, vm))
    return output


def restart_vm(invocation: Invocation, host: Host) -> list[Any]:
    output = []
    for vm in target_vms(invocation, host):
        if vm.state != "Running":
            raise wrong_state(invocation, vm)
        vm.started_at = time.time()
        if invocation.get("Wait"):
            wait_for = invocation.get("For", "Heartbeat")
            seconds = host.config.boot_seconds if wait_for == "Heartbeat" else host.config.address_seconds
            invocation.sleep_after = max(invocation.sleep_after, seconds)
        if invocation.get("Passthru"):
            output.append(vm_view(host, vm))
    return output


def remove_vm(invocation: Invocation, host: Host) -> list[Any]:
    for vm in target_vms(invocation, host):
        host.state.vms.remove(vm)  # the VHDs and folders stay, as on a real host
        if vm.checkpoints and host.config.merge_seconds > 0:
            # The checkpoints are merged into the disks after the VM is gone, and the files
            # stay open until the merge ends (hyperv-real-host.md, section 4 and section 5 item 2).
            until = time.monotonic() + host.config.merge_seconds
            for path in vm.hard_drives:
                host.merging_until[path_key(path)] = until
    return []


def guest_shutdown(host: Host, vm: VirtualMachine) -> None:
    """The guest OS shut itself down (power drift the reconciler must notice)."""
    vm.state, vm.started_at = "Off", None
    host.dirty = True


# --- checkpoints ------------------------------------------------------------------------------


def checkpoint_vm(invocation: Invocation, host: Host) -> list[Any]:
    output = []
    for vm in target_vms(invocation, host):
        if vm.checkpoint_type == "Disabled":
            raise vm_error(
                invocation,
                f"Checkpoint operation failed for '{vm.name}'.\nCheckpoints are disabled for '{vm.name}'.",
                target=vm.name,
            )
        now = time.time()
        name = (
            invocation.get("SnapshotName")
            or f"{vm.name} - ({time.strftime('%m/%d/%Y - %I:%M:%S %p', time.gmtime(now))})"
        )
        checkpoint = Checkpoint(str(uuid.uuid4()), name, now, vm.state, vm.configuration(), vm.current_checkpoint_id)
        vm.checkpoints.append(checkpoint)
        vm.current_checkpoint_id = checkpoint.id
        if invocation.get("Passthru"):
            output.append(snapshot_view(host, vm, checkpoint))
    return output


def _snapshots(invocation: Invocation, host: Host) -> list[tuple[VirtualMachine, Checkpoint]]:
    piped = invocation.get("VMSnapshot")
    if piped is None and invocation.input is not None and "VMName" not in invocation:
        piped = invocation.input
    if piped is not None:
        pairs = []
        for item in piped if isinstance(piped, list) else [piped]:
            reference = getattr(item, "ref", None)
            if isinstance(reference, tuple) and isinstance(reference[1], Checkpoint):
                pairs.append(reference)
        return pairs
    names = invocation.get("Name")
    pairs = []
    for vm in target_vms(invocation, host, "VMName"):
        if names is None:
            pairs.extend((vm, checkpoint) for checkpoint in vm.checkpoints)
            continue
        for name in names if isinstance(names, list) else [names]:
            matches = [(vm, c) for c in vm.checkpoints if wildcard_match(c.name, name)]
            if not matches and not has_wildcard(name):
                invocation.write_error(
                    vm_error(
                        invocation,
                        facts.SNAPSHOT_NOT_FOUND.format(name=name, vm=vm.name),
                        target=name,
                        category="ObjectNotFound",
                        error_id="ObjectNotFound",
                    )
                )
            pairs.extend(matches)
    return pairs


def get_vm_snapshot(invocation: Invocation, host: Host) -> list[Any]:
    return [snapshot_view(host, vm, checkpoint) for vm, checkpoint in _snapshots(invocation, host)]


def restore_vm_snapshot(invocation: Invocation, host: Host) -> list[Any]:
    for vm, checkpoint in _snapshots(invocation, host):
        # Nested VMs may be restored while running since build 14361 (hyperv-real-host.md
        # section 4, [S3]).
        for name, value in checkpoint.settings.items():
            setattr(vm, name, value)
        vm.state = "Saved" if checkpoint.vm_state == "Running" else "Off"
        vm.started_at = None
        vm.current_checkpoint_id = checkpoint.id
    return []


def remove_vm_snapshot(invocation: Invocation, host: Host) -> list[Any]:
    for vm, checkpoint in _snapshots(invocation, host):
        doomed = {checkpoint.id}
        if invocation.get("IncludeAllChildSnapshots"):
            changed = True
            while changed:
                children = {c.id for c in vm.checkpoints if c.parent_id in doomed} - doomed
                changed = bool(children)
                doomed |= children
        for other in vm.checkpoints:
            if other.parent_id in doomed and other.id not in doomed:
                other.parent_id = checkpoint.parent_id
        if vm.current_checkpoint_id in doomed:
            vm.current_checkpoint_id = checkpoint.parent_id
        vm.checkpoints = [c for c in vm.checkpoints if c.id not in doomed]
    return []


# --- guest services, console, metering --------------------------------------------------------


def get_integration_service(invocation: Invocation, host: Host) -> list[Any]:
    names = invocation.get("Name")
    now = time.time()
    rows = []
    for vm in target_vms(invocation, host, "VMName"):
        for view in integration_service_views(host, vm, now):
            if names is None or any(wildcard_match(view.properties["Name"], name) for name in names):
                rows.append(view)
    return rows


def grant_connect_access(invocation: Invocation, host: Host) -> list[Any]:
    for vm in target_vms(invocation, host, "VMName"):
        for user in invocation.get("UserName"):
            if user.lower() not in (existing.lower() for existing in vm.connect_access):
                vm.connect_access.append(user)
    return []


def revoke_connect_access(invocation: Invocation, host: Host) -> list[Any]:
    users = {user.lower() for user in invocation.get("UserName")}
    for vm in target_vms(invocation, host, "VMName"):
        vm.connect_access = [user for user in vm.connect_access if user.lower() not in users]
    return []


def get_connect_access(invocation: Invocation, host: Host) -> list[Any]:
    users = {user.lower() for user in invocation.get("UserName", [])}
    rows = []
    for vm in target_vms(invocation, host, "VMName") if "VMName" in invocation else host.state.vms:
        for user in vm.connect_access:
            if not users or user.lower() in users:
                rows.append(
                    PSObject(
                        "Microsoft.HyperV.PowerShell.VMConnectAce",
                        {
                            "VMName": vm.name,
                            "VMId": vm.id,
                            "UserName": user,
                            "UserId": f"S-1-5-21-{abs(hash(user)) % 10**9}",
                            "ComputerName": host.config.computer_name,
                        },
                    )
                )
    return rows


def enable_metering(invocation: Invocation, host: Host) -> list[Any]:
    for vm in target_vms(invocation, host, "VMName"):
        if not vm.resource_metering:
            vm.resource_metering, vm.metering_since = True, time.time()
    return []


def disable_metering(invocation: Invocation, host: Host) -> list[Any]:
    for vm in target_vms(invocation, host, "VMName"):
        vm.resource_metering, vm.metering_since = False, None
    return []


def measure_vm(invocation: Invocation, host: Host) -> list[Any]:
    rows = []
    now = time.time()
    for vm in target_vms(invocation, host, "VMName"):
        if not vm.resource_metering:
            raise vm_error(
                invocation,
                f"Resource metering is not enabled for virtual machine '{vm.name}'.",
                target=vm.name,
                category="InvalidOperation",
                error_id="InvalidOperation",
            )
        running = vm.state == "Running"
        memory_mb = vm.memory_startup // facts.MIB
        disk_mb = sum((host.disk(p).size_bytes if host.disk(p) else 0) for p in vm.hard_drives) // facts.MIB
        rows.append(
            PSObject(
                "Microsoft.HyperV.PowerShell.VMMeteringReportForVirtualMachine",
                {
                    "VMId": vm.id,
                    "VMName": vm.name,
                    "ComputerName": host.config.computer_name,
                    "MeteringDuration": timespan(now - (vm.metering_since or now)),
                    "AverageProcessorUsage": 120 * vm.processor_count if running else 0,
                    "AverageMemoryUsage": memory_mb if running else 0,
                    "MaximumMemoryUsage": memory_mb if running else 0,
                    "MinimumMemoryUsage": memory_mb if running else 0,
                    "TotalDiskAllocation": disk_mb,
                },
            )
        )
    return rows


VM_CMDLETS = (
    cmdlet("Get-VM", get_vm, (VM_NAME, Parameter("Id", "any"), VM_OBJECT, COMPUTER)),
    cmdlet("Get-VMHost", get_vmhost, (COMPUTER,)),
    cmdlet("Get-VMHostSupportedVersion", get_supported_versions, (Parameter("Default", "switch"), COMPUTER)),
    cmdlet(
        "New-VM",
        new_vm,
        (
            Parameter("Name", position=0, aliases=("vmname",)),
            Parameter("Generation", "int", position=2, minimum=1, maximum=2),
            Parameter("MemoryStartupBytes", "int", position=1),
            Parameter("VHDPath"),
            Parameter("NewVHDPath"),
            Parameter("NewVHDSizeBytes", "int"),
            Parameter("NoVHD", "switch"),
            Parameter("SwitchName"),
            Parameter("Path"),
            Parameter("Version"),
            Parameter(
                "BootDevice", "choice", choices=("Floppy", "CD", "IDE", "LegacyNetworkAdapter", "NetworkAdapter", "VHD")
            ),
            Parameter("Force", "switch"),
            COMPUTER,
        ),
        mutates=True,
    ),
    cmdlet(
        "Set-VM",
        set_vm,
        (
            VM_NAME_REQUIRED,
            VM_OBJECT,
            Parameter("Notes"),
            Parameter("ProcessorCount", "int", minimum=1, maximum=240),
            Parameter("StaticMemory", "switch"),
            Parameter("DynamicMemory", "switch"),
            Parameter("MemoryStartupBytes", "int"),
            Parameter("MemoryMinimumBytes", "int"),
            Parameter("MemoryMaximumBytes", "int"),
            Parameter("AutomaticCheckpointsEnabled", "bool"),
            Parameter(
                "CheckpointType",
                "choice",
                choices=("Disabled", "Production", "ProductionOnly", "Standard"),
                type_name="Microsoft.HyperV.PowerShell.CheckpointType",
            ),
            Parameter("NewVMName"),
            PASSTHRU,
            COMPUTER,
        ),
        mutates=True,
    ),
    cmdlet(
        "Set-VMProcessor",
        set_vm_processor,
        (
            VMNAME,
            VM_OBJECT,
            Parameter("Count", "int", position=1, minimum=1, maximum=240),
            Parameter("ExposeVirtualizationExtensions", "bool"),
            Parameter("CompatibilityForMigrationEnabled", "bool"),
            Parameter("Reserve", "int"),
            Parameter("Maximum", "int"),
            Parameter("RelativeWeight", "int"),
            PASSTHRU,
            COMPUTER,
        ),
        mutates=True,
    ),
    cmdlet(
        "Set-VMMemory",
        set_vm_memory,
        (
            VMNAME,
            VM_OBJECT,
            Parameter("DynamicMemoryEnabled", "bool"),
            Parameter("StartupBytes", "int"),
            Parameter("MinimumBytes", "int"),
            Parameter("MaximumBytes", "int"),
            Parameter("Buffer", "int"),
            Parameter("Priority", "int"),
            PASSTHRU,
            COMPUTER,
        ),
        mutates=True,
    ),
    cmdlet("Get-VMFirmware", get_vm_firmware, (VMNAME, VM_OBJECT, COMPUTER)),
    cmdlet(
        "Set-VMFirmware",
        set_vm_firmware,
        (
            VMNAME,
            VM_OBJECT,
            Parameter("EnableSecureBoot", "choice", choices=("On", "Off")),
            Parameter("SecureBootTemplate", "choice", choices=facts.SECURE_BOOT_TEMPLATES),
            PASSTHRU,
            COMPUTER,
        ),
        mutates=True,
    ),
    cmdlet("Get-VMProcessor", get_vm_processor, (VMNAME, VM_OBJECT, COMPUTER)),
    cmdlet("Get-VMMemory", get_vm_memory, (VMNAME, VM_OBJECT, COMPUTER)),
    cmdlet("Get-VMHardDiskDrive", get_vm_hard_disk_drive, (VMNAME, VM_OBJECT, COMPUTER)),
    cmdlet(
        "Start-VM",
        start_vm,
        (VM_NAME_REQUIRED, VM_OBJECT, PASSTHRU, Parameter("AsJob", "switch"), COMPUTER),
        mutates=True,
    ),
    cmdlet(
        "Stop-VM",
        stop_vm,
        (
            VM_NAME_REQUIRED,
            VM_OBJECT,
            Parameter("Force", "switch"),
            Parameter("TurnOff", "switch"),
            Parameter("Save", "switch"),
            PASSTHRU,
            Parameter("AsJob", "switch"),
            COMPUTER,
        ),
        mutates=True,
    ),
    cmdlet(
        "Restart-VM",
        restart_vm,
        (
            VM_NAME_REQUIRED,
            VM_OBJECT,
            Parameter("Force", "switch"),
            Parameter("Wait", "switch"),
            Parameter("For", "choice", choices=("Heartbeat", "IPAddress")),
            Parameter("Timeout", "int"),
            Parameter("Delay", "int"),
            PASSTHRU,
            COMPUTER,
        ),
        mutates=True,
    ),
    cmdlet("Remove-VM", remove_vm, (VM_NAME_REQUIRED, VM_OBJECT, Parameter("Force", "switch"), COMPUTER), mutates=True),
    cmdlet(
        "Checkpoint-VM",
        checkpoint_vm,
        (VM_NAME_REQUIRED, VM_OBJECT, Parameter("SnapshotName", position=1), PASSTHRU, COMPUTER),
        mutates=True,
    ),
    cmdlet(
        "Get-VMSnapshot",
        get_vm_snapshot,
        (VMNAME, Parameter("Name", "strings", position=1), VM_OBJECT, Parameter("SnapshotType"), COMPUTER),
        aliases=("Get-VMCheckpoint",),
    ),
    cmdlet(
        "Restore-VMSnapshot",
        restore_vm_snapshot,
        (
            Parameter("Name", "strings", position=0),
            Parameter("VMName", "strings", position=1),
            Parameter("VMSnapshot", "any", from_pipeline=True),
            VM_OBJECT,
            PASSTHRU,
            COMPUTER,
        ),
        mutates=True,
        aliases=("Restore-VMCheckpoint",),
    ),
    cmdlet(
        "Remove-VMSnapshot",
        remove_vm_snapshot,
        (
            Parameter("VMName", "strings", position=0),
            Parameter("Name", "strings", position=1),
            Parameter("VMSnapshot", "any", from_pipeline=True),
            VM_OBJECT,
            Parameter("IncludeAllChildSnapshots", "switch"),
            COMPUTER,
        ),
        mutates=True,
        aliases=("Remove-VMCheckpoint",),
    ),
    cmdlet(
        "Get-VMIntegrationService",
        get_integration_service,
        (VMNAME, Parameter("Name", "strings", position=1), VM_OBJECT, COMPUTER),
    ),
    cmdlet(
        "Grant-VMConnectAccess",
        grant_connect_access,
        (VMNAME, Parameter("UserName", "strings", position=1, mandatory=True), COMPUTER),
        mutates=True,
    ),
    cmdlet(
        "Revoke-VMConnectAccess",
        revoke_connect_access,
        (VMNAME, Parameter("UserName", "strings", position=1, mandatory=True), COMPUTER),
        mutates=True,
    ),
    cmdlet(
        "Get-VMConnectAccess",
        get_connect_access,
        (Parameter("VMName", "strings", position=0), Parameter("UserName", "strings", position=1), COMPUTER),
    ),
    cmdlet("Enable-VMResourceMetering", enable_metering, (VMNAME, VM_OBJECT, COMPUTER), mutates=True),
    cmdlet("Disable-VMResourceMetering", disable_metering, (VMNAME, VM_OBJECT, COMPUTER), mutates=True),
    cmdlet("Measure-VM", measure_vm, (VMNAME, VM_OBJECT, COMPUTER)),
)
