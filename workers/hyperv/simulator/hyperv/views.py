"""The objects Hyper-V cmdlets write to the pipeline, built from the model.

Property names follow the Hyper-V PowerShell module; enums are EnumValue so ConvertTo-Json
writes numbers (5.1) while ``.ToString()`` and string comparisons see names. Each object keeps a
``ref`` to the model object, so it can be piped into another cmdlet (``Get-VM x | Stop-VM``).
"""

from __future__ import annotations

import time

from ..powershell.values import DateTime, PSObject, timespan
from . import facts
from .model import Checkpoint, Host, NetworkAdapter, VirtualDisk, VirtualMachine, VirtualSwitch

HV = "Microsoft.HyperV.PowerShell"


def vm_view(host: Host, vm: VirtualMachine, now: float | None = None) -> PSObject:
    now = time.time() if now is None else now
    running = vm.state == "Running"
    uptime = vm.uptime(now)
    parent = next((c for c in vm.checkpoints if c.id == vm.current_checkpoint_id), None)
    return PSObject(
        f"{HV}.VirtualMachine",
        {
            "Name": vm.name,
            "VMName": vm.name,
            "Id": vm.id,
            "VMId": vm.id,
            "State": facts.VMState(vm.state),
            "Status": "Operating normally",
            "CPUUsage": (3 + int(uptime) % 5) if running else 0,
            "MemoryAssigned": vm.memory_startup if running else 0,
            "MemoryDemand": int(vm.memory_startup * 0.4) if running else 0,
            "MemoryStartup": vm.memory_startup,
            "MemoryMinimum": vm.memory_minimum,
            "MemoryMaximum": vm.memory_maximum,
            "DynamicMemoryEnabled": vm.dynamic_memory,
            "ProcessorCount": vm.processor_count,
            "Uptime": timespan(round(uptime, 3)),
            "Notes": vm.notes,
            "Generation": vm.generation,
            "Version": vm.version,
            "Path": vm.path,
            "ConfigurationLocation": vm.path,
            "CheckpointType": facts.CheckpointType(vm.checkpoint_type),
            "AutomaticCheckpointsEnabled": vm.automatic_checkpoints,
            "ParentSnapshotId": parent.id if parent else None,
            "ParentSnapshotName": parent.name if parent else None,
            "HardDrives": [hard_drive_view(vm, path, index) for index, path in enumerate(vm.hard_drives)],
            "NetworkAdapters": [adapter_view(host, vm, adapter, now) for adapter in vm.adapters],
            "ResourceMeteringEnabled": vm.resource_metering,
            "ComputerName": host.config.computer_name,
            "IsClustered": False,
            "IntegrationServicesVersion": "10.0.20348" if running else None,
        },
        display=f"VirtualMachine (Name = '{vm.name}') [Id = '{vm.id}']",
        ref=vm,
    )


def hard_drive_view(vm: VirtualMachine, path: str, index: int) -> PSObject:
    return PSObject(
        f"{HV}.HardDiskDrive",
        {
            "VMName": vm.name,
            "VMId": vm.id,
            "Path": path,
            "ControllerType": 1 if vm.generation == 2 else 0,
            "ControllerNumber": 0,
            "ControllerLocation": index,
            "Name": "Hard Drive",
        },
        display=f"HardDiskDrive (Name = 'Hard Drive on SCSI controller number 0 at location {index}') "
        f"[VMName = '{vm.name}']",
    )


def adapter_view(host: Host, vm: VirtualMachine | None, adapter: NetworkAdapter, now: float | None = None) -> PSObject:
    now = time.time() if now is None else now
    switch_name = host.switch_name(adapter.switch_id)
    return PSObject(
        f"{HV}.VMNetworkAdapter",
        {
            "Name": adapter.name,
            "Id": f"Microsoft:{vm.id if vm else ''}\\{adapter.id}",
            "VMName": vm.name if vm else "",
            "VMId": vm.id if vm else None,
            "SwitchName": switch_name,
            "SwitchId": adapter.switch_id,
            "MacAddress": adapter.mac_address,
            "Connected": switch_name is not None,
            "IsManagementOs": vm is None,
            "IPAddresses": host.guest_addresses(vm, adapter, now) if vm else [],
            "MacAddressSpoofing": facts.OnOffState("On" if adapter.mac_address_spoofing else "Off"),
            "DhcpGuard": facts.OnOffState("On" if adapter.dhcp_guard else "Off"),
            "RouterGuard": facts.OnOffState("On" if adapter.router_guard else "Off"),
            "DynamicMacAddressEnabled": True,
        },
        display=f"VMNetworkAdapter (Name = '{adapter.name}', VMName = '{vm.name if vm else ''}') "
        f"[VMId = '{vm.id if vm else ''}']",
        ref=(vm, adapter),
    )


def vlan_view(vm: VirtualMachine, adapter: NetworkAdapter) -> PSObject:
    access = adapter.access_vlan_id is not None
    return PSObject(
        f"{HV}.VMNetworkAdapterVlanSetting",
        {
            "VMName": vm.name,
            "AdapterName": adapter.name,
            "OperationMode": facts.VlanMode("Access" if access else "Untagged"),
            "AccessVlanId": adapter.access_vlan_id or 0,
            "NativeVlanId": 0,
            "AllowedVlanIdList": None,
        },
        display=f"VMNetworkAdapterVlanSetting (VMName = '{vm.name}')",
        ref=(vm, adapter),
    )


def processor_view(vm: VirtualMachine) -> PSObject:
    return PSObject(
        f"{HV}.VMProcessor",
        {
            "VMName": vm.name,
            "VMId": vm.id,
            "Count": vm.processor_count,
            "ExposeVirtualizationExtensions": vm.expose_virtualization_extensions,
            "CompatibilityForMigrationEnabled": False,
            "Maximum": 100,
            "Reserve": 0,
            "RelativeWeight": 100,
        },
        display=f"VMProcessor (VMName = '{vm.name}')",
        ref=vm,
    )


def firmware_view(vm: VirtualMachine) -> PSObject:
    return PSObject(
        f"{HV}.VMFirmware",
        {
            "VMName": vm.name,
            "VMId": vm.id,
            "SecureBoot": facts.OnOffState("On" if vm.secure_boot else "Off"),
            "SecureBootTemplate": vm.secure_boot_template,
        },
        display=f"VMFirmware (VMName = '{vm.name}')",
        ref=vm,
    )


def memory_view(vm: VirtualMachine) -> PSObject:
    return PSObject(
        f"{HV}.VMMemory",
        {
            "VMName": vm.name,
            "VMId": vm.id,
            "DynamicMemoryEnabled": vm.dynamic_memory,
            "Startup": vm.memory_startup,
            "Minimum": vm.memory_minimum,
            "Maximum": vm.memory_maximum,
            "Buffer": 20,
            "Priority": 50,
        },
        display=f"VMMemory (VMName = '{vm.name}')",
        ref=vm,
    )


def switch_view(host: Host, switch: VirtualSwitch) -> PSObject:
    return PSObject(
        f"{HV}.VMSwitch",
        {
            "Name": switch.name,
            "Id": switch.id,
            "SwitchType": facts.VMSwitchType(switch.switch_type),
            "NetAdapterInterfaceDescription": f"Simulated NIC ({switch.net_adapter_name})"
            if switch.net_adapter_name
            else None,
            "AllowManagementOS": switch.allow_management_os,
            "ComputerName": host.config.computer_name,
            "Notes": "",
        },
        display=f"VMSwitch (Name = '{switch.name}') [Id = '{switch.id}']",
        ref=switch,
    )


def vhd_view(host: Host, disk: VirtualDisk) -> PSObject:
    owner = host.disk_owner(disk.path)
    return PSObject(
        "Microsoft.Vhd.PowerShell.VirtualHardDisk",
        {
            "ComputerName": host.config.computer_name,
            "Path": disk.path,
            "VhdFormat": facts.VhdFormat("VHDX" if disk.path.lower().endswith(".vhdx") else "VHD"),
            "VhdType": facts.VhdType(disk.vhd_type),
            "FileSize": disk.file_size,
            "Size": disk.size_bytes,
            "MinimumSize": None,
            "LogicalSectorSize": 512,
            "PhysicalSectorSize": 4096,
            "BlockSize": 33554432,
            "ParentPath": disk.parent_path,
            "DiskIdentifier": disk.disk_identifier,
            "FragmentationPercentage": 0,
            "Alignment": 1,
            "Attached": bool(owner and owner.state == "Running"),
            "DiskNumber": None,
            "IsPMEMCompatible": False,
            "AddressAbstractionType": 0,
            "Number": None,
        },
        display="Microsoft.Vhd.PowerShell.VirtualHardDisk",
        ref=disk,
    )


def snapshot_view(host: Host, vm: VirtualMachine, checkpoint: Checkpoint) -> PSObject:
    parent = next((c for c in vm.checkpoints if c.id == checkpoint.parent_id), None)
    return PSObject(
        f"{HV}.VMSnapshot",
        {
            "Name": checkpoint.name,
            "Id": checkpoint.id,
            "VMName": vm.name,
            "VMId": vm.id,
            "SnapshotType": facts.SnapshotType("Standard"),
            "State": facts.VMState(checkpoint.vm_state),
            "CreationTime": DateTime(checkpoint.created_at),
            "ParentSnapshotName": parent.name if parent else None,
            "ParentSnapshotId": parent.id if parent else None,
            "Notes": checkpoint.settings.get("notes", ""),
            "ComputerName": host.config.computer_name,
            "IsDeleted": False,
        },
        display=f"VMSnapshot (Name = '{checkpoint.name}', VMName = '{vm.name}') [Id = '{checkpoint.id}']",
        ref=(vm, checkpoint),
    )


def integration_service_views(host: Host, vm: VirtualMachine, now: float) -> list[PSObject]:
    views = []
    language = host.config.language
    german = language.lower().startswith("de")
    for english in facts.IntegrationServiceNames:
        name = facts.integration_service_name(english, language)
        if vm.state != "Running":
            status = None
        elif host.heartbeat_ok(vm, now):
            status = "OK"
        else:
            status = "No Contact"
        enabled = english != "Guest Service Interface"
        operational = (
            None if status is None or not enabled else facts.IntegrationStatus("Ok" if status == "OK" else "NoContact")
        )
        description = facts.GERMAN_STATUS.get(status, status) if german and status else status
        views.append(
            PSObject(
                f"{HV}.VMIntegrationComponent",
                {
                    "VMName": vm.name,
                    "VMId": vm.id,
                    "Id": f"Microsoft:{vm.id}\\{facts.INTEGRATION_SERVICE_GUIDS[english]}",
                    "Name": name,
                    "Enabled": enabled,
                    "PrimaryOperationalStatus": operational,
                    "PrimaryStatusDescription": description if enabled else None,
                    "SecondaryStatusDescription": None,
                    "ComputerName": host.config.computer_name,
                },
                display=f"VMIntegrationComponent (Name = '{name}', VMName = '{vm.name}')",
                ref=vm,
            )
        )
    return views
