"""Host rules checked in-process (fast): storage, names as wildcards, addresses, persistence format."""

from __future__ import annotations

import json
import time

from workers.hyperv.simulator.hyperv.commands import command_table
from workers.hyperv.simulator.hyperv.model import Host, HostConfig
from workers.hyperv.simulator.powershell.errors import format_error
from workers.hyperv.simulator.powershell.evaluator import Interpreter


def run(host: Host, script: str) -> tuple[str, str]:
    interpreter = Interpreter(commands=command_table(host.config), context=host)
    result = interpreter.run("$ErrorActionPreference = 'Stop'\n" + script)
    errors = "\n".join(line for stream, record in result.stderr if stream == "Error" for line in format_error(record))
    return result.stdout, errors.replace(" \n   ", "")


def test_new_vhd_is_refused_when_the_disk_is_full():
    host = Host(HostConfig(storage_gb=60))  # 40 GB of Windows and 19 GB of base images leave 1 GB
    _, errors = run(host, r"New-VHD -Path C:\Users\Public\Documents\big.vhdx -SizeBytes 2GB -Fixed")
    assert "There is not enough space on the disk." in errors
    assert host.disk(r"C:\Users\Public\Documents\big.vhdx") is None


def test_new_vhd_needs_its_folder_to_exist():
    _, errors = run(Host(HostConfig()), r"New-VHD -Path C:\NoSuchFolder\d.vhdx -SizeBytes 1GB")
    assert "The system cannot find the path specified." in errors


def test_vm_names_are_wildcard_patterns_and_a_backtick_escapes_them():
    host = Host(HostConfig())
    stdout, _ = run(
        host,
        "New-VM -Name 'a[1]' -NoVHD | Out-Null; New-VM -Name a1 -NoVHD | Out-Null\n"
        "(Get-VM -Name 'a[1]').Name; (Get-VM -Name 'a`[1`]').Name; @(Get-VM -Name 'a*').Count",
    )
    assert stdout == "a1\r\na[1]\r\n2\r\n"


def test_a_wildcard_that_matches_nothing_is_not_an_error():
    stdout, errors = run(Host(HostConfig()), "@(Get-VM -Name 'zz*').Count")
    assert (stdout, errors) == ("0\r\n", "")


def test_every_adapter_gets_its_own_mac_address_in_the_hyper_v_range():
    host = Host(HostConfig())
    run(host, '1..5 | ForEach-Object { New-VM -Name "m$_" -NoVHD | Out-Null }')
    macs = [vm.adapters[0].mac_address for vm in host.state.vms]
    assert len(set(macs)) == 5 and all(mac.startswith("00155D") and len(mac) == 12 for mac in macs)


def test_guests_on_private_and_external_switches_get_link_local_and_switch_network_addresses():
    host = Host(HostConfig(boot_seconds=0, address_seconds=0))
    run(
        host,
        "New-VMSwitch -Name p -SwitchType Private | Out-Null; New-VMSwitch -Name e -NetAdapterName Ethernet "
        "| Out-Null; New-VM -Name vp -NoVHD -SwitchName p | Start-VM; New-VM -Name ve -NoVHD -SwitchName e | "
        "Start-VM",
    )
    time.sleep(0.01)
    stdout, _ = run(
        host, "(Get-VMNetworkAdapter -VMName vp).IPAddresses[0]; (Get-VMNetworkAdapter -VMName ve).IPAddresses[0]"
    )
    private, external = stdout.split()
    assert private.startswith("169.254.") and external.startswith("10.")


def test_a_disconnected_adapter_has_no_addresses():
    host = Host(HostConfig(boot_seconds=0, address_seconds=0))
    stdout, _ = run(host, "New-VM -Name v -NoVHD | Start-VM; @((Get-VMNetworkAdapter -VMName v).IPAddresses).Count")
    assert stdout == "0\r\n"


def test_the_state_file_round_trips_every_object(tmp_path):
    host = Host(HostConfig())
    run(
        host,
        "New-VMSwitch -Name s -SwitchType Internal | Out-Null; New-NetNat -Name s "
        "-InternalIPInterfaceAddressPrefix 10.9.0.0/24 | Out-Null; New-VM -Name v -NoVHD -SwitchName s | "
        "Out-Null; Checkpoint-VM v c; Grant-VMConnectAccess -VMName v -UserName u; "
        "Set-VMNetworkAdapterVlan -VMName v -Access -VlanId 7",
    )
    path = tmp_path / "state.json"
    host.save(str(path))
    again = Host.load(HostConfig(), str(path))
    first, second = host.to_dict(), again.to_dict()
    for dump in (first, second):
        for vm in dump["vms"]:
            vm.pop("uptime_seconds")
    assert first == second
    assert json.loads(path.read_text())["vms"][0]["adapters"][0]["access_vlan_id"] == 7


def test_removing_a_folder_with_children_needs_recurse():
    host = Host(HostConfig())
    _, errors = run(host, r"New-Item -ItemType Directory -Path C:\L\a | Out-Null; Remove-Item -LiteralPath C:\L")
    assert "has children and the Recurse parameter was not specified" in errors
    assert host.is_directory(r"C:\L\a")


def test_set_vm_accepts_vmname_as_an_alias_of_name():
    host = Host(HostConfig())
    run(host, "New-VM -Name v -NoVHD | Out-Null; Set-VM -VMName v -Notes aliased")
    assert host.state.vms[0].notes == "aliased"


def test_runtime_memory_resize_is_refused_for_a_running_nested_vm_but_not_for_others():
    host = Host(HostConfig())
    _, errors = run(
        host,
        "New-VM -Name n -NoVHD -MemoryStartupBytes 2GB | Out-Null; "
        "Set-VMProcessor -VMName n -ExposeVirtualizationExtensions $true; Start-VM n; "
        "Set-VMMemory -VMName n -StartupBytes 4GB",
    )
    assert "current state" in errors
    _, errors = run(
        host, "New-VM -Name p -NoVHD -MemoryStartupBytes 2GB | Start-VM; Set-VMMemory -VMName p -StartupBytes 4GB"
    )
    assert errors == "" and host.vms_named("p")[0].memory_startup == 4 * 1024**3


def test_a_nested_vm_saves_like_a_plain_vm():
    """Nested VMs may be saved since build 14361 (hyperv-real-host.md section 4, [S3])."""
    host = Host(HostConfig())
    _, errors = run(
        host,
        "New-VM -Name n -NoVHD | Out-Null; Set-VMProcessor -VMName n "
        "-ExposeVirtualizationExtensions $true; Start-VM n; Stop-VM n -Save",
    )
    assert errors == "" and host.vms_named("n")[0].state == "Saved"
    run(host, "New-VM -Name p -NoVHD | Start-VM; Stop-VM p -Save")
    assert host.vms_named("p")[0].state == "Saved"


def test_get_volume_and_get_psdrive_report_the_same_free_space():
    stdout, _ = run(Host(HostConfig()), "(Get-Volume -DriveLetter C).SizeRemaining -eq (Get-PSDrive C).Free")
    assert stdout == "True\r\n"


def test_paths_can_be_piped_into_test_path_and_remove_item():
    host = Host(HostConfig())
    stdout, errors = run(host, r"New-Item -ItemType Directory -Path C:\P | Remove-Item; 'C:\P', 'C:\' | Test-Path")
    assert (stdout, errors) == ("False\r\nTrue\r\n", "")


def test_a_base_image_cannot_be_deleted_while_a_vm_on_a_child_disk_runs_and_then_breaks_its_children():
    host = Host(HostConfig())
    base = r"C:\NestlabImages\ubuntu-2404-base.vhdx"
    _, errors = run(
        host,
        rf"New-VHD -Path C:\Users\Public\Documents\c.vhdx -ParentPath {base} -Differencing | Out-Null; "
        r"New-VM -Name v -VHDPath C:\Users\Public\Documents\c.vhdx | Start-VM; "
        rf"Remove-Item -LiteralPath {base}",
    )
    assert "being used by another process" in errors
    _, errors = run(host, rf"Stop-VM v -TurnOff; Remove-Item -LiteralPath {base}; Start-VM v")
    assert "failed to start" in errors and "cannot find the file specified" in errors


def test_switch_names_may_repeat_like_vm_names():
    host = Host(HostConfig())
    stdout, errors = run(
        host,
        "New-VMSwitch -Name s -SwitchType Private | Out-Null; "
        "New-VMSwitch -Name s -SwitchType Internal | Out-Null; @(Get-VMSwitch -Name s).Count",
    )
    assert (stdout, errors) == ("2\r\n", "")


def test_port_acls_are_recorded_per_direction_and_removed():
    host = Host(HostConfig())
    stdout, errors = run(
        host,
        "New-VM -Name v -NoVHD | Out-Null\n"
        "Add-VMNetworkAdapterAcl -VMName v -RemoteIPAddress 10.0.0.0/8 -Direction Both -Action Deny\n"
        "Get-VMNetworkAdapterAcl -VMName v | Select-Object Action, Direction, RemoteAddress | "
        "ConvertTo-Json -Compress\n"
        "Remove-VMNetworkAdapterAcl -VMName v -RemoteIPAddress 10.0.0.0/8 -Direction Inbound "
        "-Action Deny; @(Get-VMNetworkAdapterAcl -VMName v).Count",
    )
    rows, count = stdout.split("\r\n")[:2]
    assert json.loads(rows) == [
        {"Action": 2, "Direction": 1, "RemoteAddress": "10.0.0.0/8"},
        {"Action": 2, "Direction": 2, "RemoteAddress": "10.0.0.0/8"},
    ]
    assert (count, errors) == ("1", "")


def test_a_port_acl_needs_exactly_one_address():
    _, errors = run(
        Host(HostConfig()),
        "New-VM -Name v -NoVHD | Out-Null; Add-VMNetworkAdapterAcl -VMName v -Direction Both -Action Deny",
    )
    assert "Parameter set cannot be resolved" in errors


def test_extended_acls_are_ordered_by_weight_and_a_weight_is_unique_per_direction(tmp_path):
    host = Host(HostConfig())
    stdout, errors = run(
        host,
        "New-VM -Name v -NoVHD | Out-Null\n"
        "Add-VMNetworkAdapterExtendedAcl -VMName v -Action Allow -Direction Inbound -Weight 10 "
        "-RemotePort 3389 -Protocol TCP -Stateful $true\n"
        "Add-VMNetworkAdapterExtendedAcl -VMName v -Action Deny -Direction Inbound -Weight 1\n"
        "(Get-VMNetworkAdapterExtendedAcl -VMName v).Weight -join ','",
    )
    assert (stdout, errors) == ("1,10\r\n", "")
    _, errors = run(host, "Add-VMNetworkAdapterExtendedAcl -VMName v -Action Deny -Direction Inbound -Weight 10")
    assert "already has an inbound rule with weight 10" in errors
    path = tmp_path / "state.json"
    host.save(str(path))
    assert Host.load(HostConfig(), str(path)).state.vms[0].adapters[0].extended_acls[0].remote_port == "3389"


def test_get_vhd_takes_vms_from_the_pipeline_by_their_vmid():
    host = Host(HostConfig())
    stdout, errors = run(
        host,
        r"New-VHD -Path C:\Users\Public\Documents\d.vhdx -ParentPath "
        r"C:\NestlabImages\win2022-base.vhdx -Differencing | Out-Null; "
        r"New-VM -Name v -VHDPath C:\Users\Public\Documents\d.vhdx | Out-Null; "
        "(Get-VM v | Get-VHD).ParentPath",
    )
    assert (stdout, errors) == ("C:\\NestlabImages\\win2022-base.vhdx\r\n", "")


def test_get_vm_hard_disk_drive_lists_the_attached_disks():
    host = Host(HostConfig())
    stdout, errors = run(
        host,
        "New-VM -Name v -NewVHDPath v.vhdx -NewVHDSizeBytes 10GB | Out-Null; (Get-VM v | Get-VMHardDiskDrive).Path",
    )
    assert (stdout, errors) == ("C:\\Users\\Public\\Documents\\Hyper-V\\Virtual Hard Disks\\v.vhdx\r\n", "")
