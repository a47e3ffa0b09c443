"""Virtual disks and the file system: New-VHD, Get-VHD, Test-Path, New-Item, Remove-Item,
Get-PSDrive, Get-Volume. Only folders and virtual disks exist on the simulated C: drive."""

from __future__ import annotations

from typing import Any

from ..powershell.binding import Parameter
from ..powershell.evaluator import Invocation
from ..powershell.values import PSObject, to_text
from . import facts
from .common import COMPUTER, cmdlet
from .model import Host, VirtualDisk, normalize_path, parent_path, path_key
from .views import vhd_view

VHD_TYPE = "Microsoft.Vhd.PowerShell.Cmdlets"
FILESYSTEM = "Microsoft.PowerShell.Commands"


def _file_error(
    invocation: Invocation,
    message: str,
    *,
    target: str,
    error_id: str,
    category: str = "ObjectNotFound",
    exception: str = "VirtualizationException",
):
    return invocation.error(message, category=category, error_id=error_id, exception=exception, target=target)


def create_disk(
    invocation: Invocation, host: Host, path: str, *, size_bytes: int | None, parent: str | None, fixed: bool = False
) -> VirtualDisk:
    """Create a VHD file, enforcing what Windows enforces: the folder exists, the file does not,
    the parent exists, and there is space for the new file."""
    path = normalize_path(path)
    if not path.lower().endswith((".vhd", ".vhdx")):
        raise _file_error(
            invocation,
            f"Failed to create the virtual hard disk.\nThe file extension of '{path}' is not "
            "supported: use .vhd or .vhdx.",
            target=path,
            error_id="InvalidParameter",
            category="InvalidArgument",
        )
    if host.disk(path) is not None or host.is_directory(path):
        raise _file_error(
            invocation,
            f"Failed to create the virtual hard disk.\nThe system failed to create '{path}': "
            f"{facts.FILE_EXISTS} (0x80070050).",
            target=path,
            error_id="ObjectExists",
            category="ResourceExists",
        )
    if not host.is_directory(parent_path(path)):
        raise _file_error(
            invocation,
            f"Failed to create the virtual hard disk.\nThe system failed to create '{path}': "
            f"{facts.PATH_NOT_FOUND} (0x80070003).",
            target=path,
            error_id="ObjectNotFound",
        )
    if parent is not None:
        parent_disk = host.disk(parent)
        if parent_disk is None:
            raise _file_error(
                invocation,
                f"Failed to create the virtual hard disk.\nThe system failed to create "
                f"'{path}': {facts.FILE_NOT_FOUND} (0x80070002).",
                target=parent,
                error_id="ObjectNotFound",
            )
        disk = VirtualDisk(
            path, "Differencing", parent_disk.size_bytes, facts.NEW_DIFFERENCING_DISK_BYTES, parent_disk.path
        )
    else:
        disk = VirtualDisk(
            path,
            "Fixed" if fixed else "Dynamic",
            size_bytes or 0,
            size_bytes if fixed else facts.NEW_DYNAMIC_DISK_BYTES,
        )
    if disk.file_size > host.free_storage():
        raise _file_error(
            invocation,
            f"Failed to create the virtual hard disk.\nThe system failed to create '{path}': "
            f"{facts.DISK_FULL} (0x80070070).",
            target=path,
            error_id="OperationFailed",
            category="ResourceUnavailable",
        )
    host.add_disk(disk)
    return disk


def new_vhd(invocation: Invocation, host: Host) -> list[Any]:
    if invocation.get("Differencing") or "ParentPath" in invocation:
        if "ParentPath" not in invocation:
            raise invocation.error(
                "Cannot process command because of one or more missing mandatory parameters: ParentPath.",
                category="InvalidArgument",
                error_id="MissingMandatoryParameter",
                exception="ParameterBindingException",
                terminating=True,
            )
        disk = create_disk(
            invocation, host, invocation.get("Path"), size_bytes=None, parent=invocation.get("ParentPath")
        )
    else:
        if "SizeBytes" not in invocation:
            raise invocation.error(
                "Cannot process command because of one or more missing mandatory parameters: SizeBytes.",
                category="InvalidArgument",
                error_id="MissingMandatoryParameter",
                exception="ParameterBindingException",
                terminating=True,
            )
        disk = create_disk(
            invocation,
            host,
            invocation.get("Path"),
            size_bytes=invocation.get("SizeBytes"),
            parent=None,
            fixed=bool(invocation.get("Fixed")),
        )
    return [vhd_view(host, disk)]


def _vhd_paths(invocation: Invocation, host: Host) -> list[str]:
    """-Path, or the disks of the VMs named by -VMId or piped in (``Get-VM x | Get-VHD``, by the
    VMId property, as the real cmdlet binds it)."""
    if "Path" in invocation:
        return list(invocation.get("Path"))
    vm_ids = list(invocation.get("VMId") or [])
    for item in invocation.input or []:
        vm_id = item.properties.get("VMId") if isinstance(item, PSObject) else None
        if vm_id is not None:
            vm_ids.append(to_text(vm_id))
    paths: list[str] = []
    for vm_id in vm_ids:
        vm = host.vm_by_id(vm_id.lower())
        if vm is not None:
            paths.extend(vm.hard_drives)
    return paths


def get_vhd(invocation: Invocation, host: Host) -> list[Any]:
    rows = []
    for path in _vhd_paths(invocation, host):
        disk = host.disk(path)
        if disk is None:
            invocation.write_error(
                _file_error(
                    invocation,
                    f"Getting the mounted storage instance for the path '{path}' failed.\nThe operation failed "
                    f"because the file was not found.",
                    target=path,
                    error_id="ObjectNotFound",
                )
            )
            continue
        rows.append(vhd_view(host, disk))
    return rows


def _paths(invocation: Invocation) -> list[str]:
    """-LiteralPath, -Path, or piped paths (strings, or items with a FullName such as New-Item's output)."""
    given = invocation.get("LiteralPath") or invocation.get("Path")
    if given is not None:
        return list(given)
    paths = []
    for item in invocation.input or []:
        full_name = item.properties.get("FullName") if isinstance(item, PSObject) else None
        paths.append(to_text(full_name if full_name is not None else item))
    return paths


def test_path(invocation: Invocation, host: Host) -> list[Any]:
    kind = invocation.get("PathType", "Any")
    results = []
    for path in _paths(invocation):
        is_dir, is_file = host.is_directory(path), host.disk(path) is not None
        results.append({"Any": is_dir or is_file, "Container": is_dir, "Leaf": is_file}[kind])
    return results


def _directory_view(path: str) -> PSObject:
    name = path.rstrip("\\").rsplit("\\", 1)[-1]
    return PSObject(
        "System.IO.DirectoryInfo",
        {
            "Name": name,
            "FullName": path,
            "Parent": parent_path(path).rsplit("\\", 1)[-1],
            "Exists": True,
            "Mode": "d-----",
            "Root": path[:3],
        },
        display=name,
    )


def new_item(invocation: Invocation, host: Host) -> list[Any]:
    item_type = (invocation.get("ItemType") or "File").lower()
    if item_type not in {"directory"}:
        raise invocation.error(
            f"The Hyper-V simulator only models folders and virtual disks; New-Item -ItemType "
            f"{invocation.get('ItemType') or 'File'} is not simulated.",
            category="NotImplemented",
            error_id="NotSimulated",
            exception="NotSupportedException",
            terminating=True,
        )
    output = []
    for path in invocation.get("Path") or []:
        full = normalize_path(path + ("\\" + invocation.get("Name") if invocation.get("Name") else ""))
        if host.is_directory(full) and not invocation.get("Force"):
            invocation.write_error(
                invocation.error(
                    f"An item with the specified name {full} already exists.",
                    category="ResourceExists",
                    error_id="DirectoryExist",
                    exception="IOException",
                    target=full,
                )
            )
            continue
        if host.disk(full) is not None:
            invocation.write_error(
                invocation.error(
                    f"An item with the specified name {full} already exists.",
                    category="ResourceExists",
                    error_id="DirectoryExist",
                    exception="IOException",
                    target=full,
                )
            )
            continue
        host.add_directory(full)
        output.append(_directory_view(full))
    return output


def remove_item(invocation: Invocation, host: Host) -> list[Any]:
    for path in _paths(invocation):
        disk = host.disk(path)
        if disk is None and not host.is_directory(path):
            invocation.write_error(
                invocation.error(
                    f"Cannot find path '{path}' because it does not exist.",
                    category="ObjectNotFound",
                    error_id="PathNotFound",
                    exception="ItemNotFoundException",
                    target=path,
                )
            )
            continue
        doomed = [d for d in host.state.disks if d is disk or path_key(d.path).startswith(path_key(path) + "\\")]
        busy = next((d for d in doomed if host.disk_in_use(d.path)), None)
        if busy is not None:
            invocation.write_error(
                invocation.error(
                    f"Cannot remove item {busy.path}: {facts.IN_USE.format(path=busy.path)}",
                    category="WriteError",
                    error_id="RemoveFileSystemItemIOError",
                    exception="IOException",
                    target=busy.path,
                )
            )
            continue
        if disk is not None:
            host.remove_disk(disk)
            continue
        if host.children(path) and not invocation.get("Recurse"):
            invocation.write_error(
                invocation.error(
                    f"The item at {normalize_path(path)} has children and the Recurse parameter was not specified. "
                    "Windows PowerShell is in NonInteractive mode. Read and Prompt functionality is not available.",
                    category="InvalidOperation",
                    error_id="RemoveItemUnableToAccessItem",
                    exception="PSInvalidOperationException",
                    target=path,
                )
            )
            continue
        host.remove_tree(path)
    return []


def get_psdrive(invocation: Invocation, host: Host) -> list[Any]:
    names = invocation.get("Name")
    if names is not None and not any(name.rstrip(":").lower() == "c" for name in names):
        raise invocation.error(
            f"Cannot find drive. A drive with the name '{names[0]}' does not exist.",
            category="ObjectNotFound",
            error_id="GetLocationNoMatchingDrive",
            exception="DriveNotFoundException",
            target=names[0],
        )
    return [
        PSObject(
            "System.Management.Automation.PSDriveInfo",
            {
                "Name": "C",
                "Root": "C:\\",
                "Used": host.used_storage(),
                "Free": host.free_storage(),
                "Provider": "Microsoft.PowerShell.Core\\FileSystem",
                "Description": "",
            },
            display="C",
        )
    ]


def get_volume(invocation: Invocation, host: Host) -> list[Any]:
    letters = invocation.get("DriveLetter")
    if letters is not None and not any(letter.rstrip(":").lower() == "c" for letter in letters):
        raise invocation.error(
            f"No MSFT_Volume objects found with property 'DriveLetter' equal to '{letters[0]}'.  "
            "Verify the value of the property and retry.",
            category="ObjectNotFound",
            error_id="CmdletizationQuery_NotFound_DriveLetter",
            exception="CimJobException",
            target=letters[0],
        )
    return [
        PSObject(
            "Microsoft.Management.Infrastructure.CimInstance#ROOT/Microsoft/Windows/Storage/MSFT_Volume",
            {
                "DriveLetter": "C",
                "FileSystemLabel": "",
                "FileSystem": "NTFS",
                "DriveType": "Fixed",
                "HealthStatus": "Healthy",
                "Size": host.config.storage_gb * facts.GIB,
                "SizeRemaining": host.free_storage(),
            },
            display="C",
        )
    ]


_PATHS = (
    Parameter("Path", "strings", position=0, from_pipeline=True),
    Parameter("LiteralPath", "strings", aliases=("pspath", "lp")),
)
STORAGE_CMDLETS = (
    cmdlet(
        "New-VHD",
        new_vhd,
        (
            Parameter("Path", position=0, mandatory=True),
            Parameter("ParentPath", position=1),
            Parameter("SizeBytes", "int", position=1),
            Parameter("Differencing", "switch"),
            Parameter("Dynamic", "switch"),
            Parameter("Fixed", "switch"),
            Parameter("BlockSizeBytes", "int"),
            Parameter("LogicalSectorSizeBytes", "int"),
            Parameter("PhysicalSectorSizeBytes", "int"),
            COMPUTER,
        ),
        mutates=True,
        implementing_type=f"{VHD_TYPE}.NewVhd",
    ),
    cmdlet(
        "Get-VHD",
        get_vhd,
        (
            Parameter("Path", "strings", position=0, mandatory=True, alternatives=("VMId",), from_pipeline=True),
            Parameter("VMId", "strings", from_pipeline=True),
            COMPUTER,
        ),
        implementing_type=f"{VHD_TYPE}.GetVhd",
    ),
    cmdlet(
        "Test-Path",
        test_path,
        (
            *_PATHS,
            Parameter(
                "PathType",
                "choice",
                choices=("Any", "Container", "Leaf"),
                type_name="Microsoft.PowerShell.Commands.TestPathType",
            ),
            Parameter("IsValid", "switch"),
        ),
        module="",
        implementing_type=f"{FILESYSTEM}.TestPathCommand",
    ),
    cmdlet(
        "New-Item",
        new_item,
        (
            Parameter("Path", "strings", position=0),
            Parameter("Name"),
            Parameter("ItemType", aliases=("type",)),
            Parameter("Value", "any"),
            Parameter("Force", "switch"),
        ),
        mutates=True,
        module="",
        implementing_type=f"{FILESYSTEM}.NewItemCommand",
        aliases=("ni",),
    ),
    cmdlet(
        "Remove-Item",
        remove_item,
        (*_PATHS, Parameter("Recurse", "switch"), Parameter("Force", "switch")),
        mutates=True,
        module="",
        implementing_type=f"{FILESYSTEM}.RemoveItemCommand",
        aliases=("rm", "del", "rmdir", "rd", "ri", "erase"),
    ),
    cmdlet(
        "Get-PSDrive",
        get_psdrive,
        (Parameter("Name", "strings", position=0), Parameter("PSProvider")),
        module="",
        implementing_type=f"{FILESYSTEM}.GetPSDriveCommand",
        aliases=("gdr",),
    ),
    cmdlet(
        "Get-Volume",
        get_volume,
        (Parameter("DriveLetter", "strings", position=0),),
        module="Storage",
        implementing_type="Get-Volume",
    ),
)
