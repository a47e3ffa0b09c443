"""Hyper-V semantics over the wire, one test per documented rule (docs/hyperv.md)."""

from __future__ import annotations

import time

import pytest

from workers.hyperv.simulator.testing import run_simulator

from .conftest import ScriptFailed, run_error, run_json

pytestmark = pytest.mark.integration
BASE = r"C:\NestlabImages\win2022-base.vhdx"
GIB = 1024**3


def vm_state(simulator, name):
    return [vm for vm in simulator.state()["vms"] if vm["name"] == name]


def make_vm(session, name, *, extra=""):
    return run_json(
        session,
        f"New-VM -Name '{name}' -Generation 2 -MemoryStartupBytes 1GB -NoVHD {extra} | "
        "Select-Object -ExpandProperty VMId | ForEach-Object { $_.ToString() } | "
        "ConvertTo-Json",
    )


# --- disks ------------------------------------------------------------------------------------


def test_a_fresh_simulator_has_the_base_images(session):
    assert run_json(
        session,
        f"@(Test-Path -LiteralPath '{BASE}'; Test-Path "
        r"'C:\NestlabImages\ubuntu-2404-base.vhdx') | ConvertTo-Json -Compress",
    ) == [True, True]


def test_new_vhd_differencing_creates_a_child_of_the_base_and_accounts_its_storage(simulator, session, unique):
    before = simulator.state()["host"]["storage_free_bytes"]
    vhd = run_json(
        session,
        f"New-Item -ItemType Directory -Path 'C:\\Labs\\{unique}' | Out-Null; "
        f"New-VHD -Path 'C:\\Labs\\{unique}\\d.vhdx' -ParentPath '{BASE}' -Differencing | "
        "Select-Object Path, ParentPath, VhdType, FileSize | ConvertTo-Json -Compress",
    )
    assert vhd == {"Path": f"C:\\Labs\\{unique}\\d.vhdx", "ParentPath": BASE, "VhdType": 4, "FileSize": 4 * 1024**2}
    assert before - simulator.state()["host"]["storage_free_bytes"] == 4 * 1024**2


def test_new_vhd_differencing_needs_an_existing_parent(session, unique):
    error = run_error(
        session,
        f"New-Item -ItemType Directory -Path 'C:\\Labs\\{unique}' | Out-Null; "
        f"New-VHD -Path 'C:\\Labs\\{unique}\\d.vhdx' -ParentPath 'C:\\nope.vhdx' -Differencing",
    )
    assert "The system cannot find the file specified." in error


def test_new_vhd_refuses_an_existing_file(session, unique):
    path = f"C:\\Labs\\{unique}\\d.vhdx"
    run_json(
        session,
        f"New-Item -ItemType Directory -Path 'C:\\Labs\\{unique}' | Out-Null; "
        f"New-VHD -Path '{path}' -ParentPath '{BASE}' -Differencing | Out-Null",
    )
    assert "The file exists." in run_error(session, f"New-VHD -Path '{path}' -ParentPath '{BASE}' -Differencing")


def test_get_vhd_of_a_missing_file_is_an_error(session):
    assert "was not found" in run_error(session, r"Get-VHD -Path 'C:\missing.vhdx'")


# --- VMs --------------------------------------------------------------------------------------


def test_new_vm_allows_duplicate_names_because_vms_are_keyed_by_vmid(simulator, session, unique):
    first, second = make_vm(session, unique), make_vm(session, unique)
    assert first != second
    assert {vm["id"] for vm in vm_state(simulator, unique)} == {first, second}


def test_new_vm_always_gets_one_network_adapter_connected_to_switchname(simulator, session, unique):
    run_json(session, f"New-VMSwitch -Name '{unique}' -SwitchType Private | Out-Null")
    make_vm(session, unique, extra=f"-SwitchName '{unique}'")
    (vm,) = vm_state(simulator, unique)
    assert [adapter["switch_name"] for adapter in vm["adapters"]] == [unique]


def test_new_vm_defaults_to_512_mb_and_the_hosts_default_version(session, unique):
    result = run_json(
        session,
        f"New-VM -Name '{unique}' -NoVHD | Select-Object MemoryStartup, Version, Generation | ConvertTo-Json -Compress",
    )
    assert result == {"MemoryStartup": 512 * 1024**2, "Version": "10.0", "Generation": 1}


def test_new_vm_refuses_a_configuration_version_the_host_does_not_support(session, unique):
    error = run_error(session, f"New-VM -Name '{unique}' -NoVHD -Version 11.0")
    assert "is not a supported virtual machine configuration version" in error


def test_new_vm_with_a_vhd_that_does_not_exist_fails(session, unique):
    error = run_error(session, f"New-VM -Name '{unique}' -VHDPath 'C:\\Labs\\{unique}\\none.vhdx'")
    assert "The system cannot find the file specified." in error


def test_get_vm_returns_the_documented_properties_with_state_as_a_number(session, unique):
    make_vm(session, unique)
    vm = run_json(
        session,
        f"Get-VM -Name '{unique}' | Select-Object Name, State, CPUUsage, MemoryAssigned, Uptime, "
        "Status, Notes, VMId, Generation, Version, ProcessorCount | ConvertTo-Json -Compress",
    )
    assert vm["Name"] == unique and vm["State"] == 3 and vm["MemoryAssigned"] == 0 and vm["Generation"] == 2
    assert vm["Uptime"]["TotalSeconds"] == 0 and vm["Status"] == "Operating normally" and vm["ProcessorCount"] == 1


def test_get_vm_of_a_missing_name_uses_the_documented_text(session):
    error = run_error(session, "Get-VM -Name 'no-such-vm'")
    assert error.startswith('Get-VM : Hyper-V was unable to find a virtual machine with name "no-such-vm".')


def test_set_vm_changes_notes_processors_memory_kind_and_checkpoint_settings(simulator, session, unique):
    make_vm(session, unique)
    run_json(
        session,
        f"Set-VM -Name '{unique}' -Notes 'owner=42' -ProcessorCount 4 -StaticMemory "
        "-AutomaticCheckpointsEnabled $false -CheckpointType Standard",
    )
    (vm,) = vm_state(simulator, unique)
    assert (
        vm["notes"],
        vm["processor_count"],
        vm["dynamic_memory"],
        vm["automatic_checkpoints"],
        vm["checkpoint_type"],
    ) == ("owner=42", 4, False, False, "Standard")


def test_set_vm_processor_is_refused_while_the_vm_runs(session, unique):
    make_vm(session, unique)
    error = run_error(
        session, f"Start-VM -Name '{unique}'; Set-VMProcessor -VMName '{unique}' -ExposeVirtualizationExtensions $true"
    )
    assert "The operation cannot be performed while the virtual machine is in its current state." in error


def test_intel_nesting_needs_configuration_version_8(unique):
    with run_simulator(os_build=17763) as server_2019:  # 2022 and later no longer create 7.1
        session = server_2019.session()
        run_json(session, f"New-VM -Name '{unique}' -NoVHD -Version 7.1 | Out-Null")
        error = run_error(session, f"Set-VMProcessor -VMName '{unique}' -ExposeVirtualizationExtensions $true")
        assert "lower than 8.0" in error
        run_json(
            session,
            f"New-VM -Name '{unique}-ok' -NoVHD -Version 8.0 | Out-Null; "
            f"Set-VMProcessor -VMName '{unique}-ok' -Count 2 -ExposeVirtualizationExtensions $true",
        )


@pytest.mark.parametrize(
    ("os_build", "supported"),
    [
        (20348, ["8.0", "8.1", "8.2", "8.3", "9.0", "9.1", "9.2", "9.3", "10.0"]),
        (26100, ["8.0", "8.1", "8.2", "8.3", "9.0", "9.1", "9.2", "9.3", "10.0", "11.0", "12.0"]),
    ],
)
def test_server_2022_and_2025_support_8_0_up_to_10_0_and_12_0(os_build, supported, unique):
    """hyperv-real-host.md section 2 ([S12]): not 5.0-7.1 any more."""
    with run_simulator(os_build=os_build) as host:
        session = host.session()
        listed = run_json(
            session,
            "ConvertTo-Json -Compress -InputObject "
            "@(Get-VMHostSupportedVersion | ForEach-Object {$_.Version.ToString()})",
        )
        assert listed == supported
        assert "not a supported" in run_error(session, f"New-VM -Name '{unique}' -NoVHD -Version 5.0")


def test_set_vm_memory_turns_dynamic_memory_off_and_sets_startup(simulator, session, unique):
    make_vm(session, unique)
    run_json(
        session,
        f"Set-VM -Name '{unique}' -DynamicMemory; Set-VMMemory -VMName '{unique}' "
        "-DynamicMemoryEnabled $false -StartupBytes 2GB",
    )
    memory = run_json(
        session,
        f"Get-VMMemory -VMName '{unique}' | Select-Object DynamicMemoryEnabled, Startup | ConvertTo-Json -Compress",
    )
    assert memory == {"DynamicMemoryEnabled": False, "Startup": 2 * GIB}


def test_get_vm_processor_reports_count_and_nesting(session, unique):
    make_vm(session, unique)
    run_json(session, f"Set-VMProcessor -VMName '{unique}' -Count 2 -ExposeVirtualizationExtensions $true")
    assert run_json(
        session,
        f"Get-VMProcessor -VMName '{unique}' | Select-Object Count, "
        "ExposeVirtualizationExtensions | ConvertTo-Json -Compress",
    ) == {"Count": 2, "ExposeVirtualizationExtensions": True}


# --- power ------------------------------------------------------------------------------------


def test_start_stop_and_turn_off_change_the_state(simulator, session, unique):
    make_vm(session, unique)
    states = run_json(
        session,
        f"$s = @(); Start-VM -Name '{unique}'; $s += (Get-VM '{unique}').State.ToString(); "
        f"Stop-VM -Name '{unique}' -Force; $s += (Get-VM '{unique}').State.ToString(); "
        f"Start-VM '{unique}'; Stop-VM -Name '{unique}' -TurnOff -Force; "
        f"$s += (Get-VM '{unique}').State.ToString(); ConvertTo-Json -InputObject $s -Compress",
    )
    assert states == ["Running", "Off", "Off"]


def test_stopping_a_vm_that_is_off_only_warns(session, unique):
    make_vm(session, unique)
    response = session.run_ps(f"Stop-VM -Name '{unique}' -Force")
    assert response.status_code == 0
    assert b"The virtual machine is already in the specified state." in response.std_err


def test_restart_vm_needs_a_running_vm_and_resets_uptime(simulator, session, unique):
    make_vm(session, unique)
    assert "current state" in run_error(session, f"Restart-VM -Name '{unique}' -Force")
    run_json(session, f"Start-VM '{unique}'; Start-Sleep -Milliseconds 500")
    assert vm_state(simulator, unique)[0]["uptime_seconds"] >= 0.5
    restarted = time.monotonic()
    run_json(session, f"Restart-VM -Name '{unique}' -Force")
    assert vm_state(simulator, unique)[0]["uptime_seconds"] <= time.monotonic() - restarted


def test_piped_vm_objects_bind_to_power_cmdlets(simulator, session, unique):
    make_vm(session, unique)
    run_json(session, f"Get-VM -Name '{unique}' | Start-VM")
    assert vm_state(simulator, unique)[0]["state"] == "Running"


def test_heartbeat_is_ok_only_after_the_boot_delay(session, unique):
    make_vm(session, unique)
    query = f"(Get-VMIntegrationService -VMName '{unique}' -Name Heartbeat).PrimaryStatusDescription | ConvertTo-Json"
    assert run_json(session, f"Start-VM '{unique}'; {query}") == "No Contact"
    time.sleep(1.1)
    assert run_json(session, query) == "OK"


def test_ip_addresses_appear_a_while_after_boot_and_nat_assigns_none(session, unique):
    # "WinNAT by itself does not allocate and assign IP addresses" (hyperv-real-host.md [S5]): a
    # guest on an Internal switch, NAT or not, has only the link-local address it gives itself.
    run_json(
        session,
        f"New-VMSwitch -Name '{unique}' -SwitchType Internal | Out-Null; "
        f"New-NetIPAddress -InterfaceAlias 'vEthernet ({unique})' -IPAddress 172.31.77.1 "
        "-PrefixLength 24 | Out-Null",
    )
    make_vm(session, unique, extra=f"-SwitchName '{unique}'")
    query = f"ConvertTo-Json -InputObject @((Get-VMNetworkAdapter -VMName '{unique}').IPAddresses) -Compress"
    assert run_json(session, f"Start-VM '{unique}'; {query}") == []
    time.sleep(1.6)
    addresses = run_json(session, query)
    assert addresses[0].startswith("169.254.") and addresses[1].startswith("fe80::")


def test_integration_services_list_the_documented_rows(session, unique):
    make_vm(session, unique)
    names = run_json(
        session,
        f"Get-VMIntegrationService -VMName '{unique}' | ForEach-Object {{ $_.Name }} | ConvertTo-Json -Compress",
    )
    assert sorted(names) == [
        "Guest Service Interface",
        "Heartbeat",
        "Key-Value Pair Exchange",
        "Shutdown",
        "Time Synchronization",
        "VSS",
    ]


# --- checkpoints ------------------------------------------------------------------------------


def test_checkpoint_and_restore_bring_back_the_configuration(simulator, session, unique):
    make_vm(session, unique)
    run_json(
        session,
        f"Set-VM -Name '{unique}' -Notes before; Checkpoint-VM -Name '{unique}' -SnapshotName clean; "
        f"Set-VM -Name '{unique}' -Notes after -ProcessorCount 3",
    )
    run_json(session, f"Restore-VMSnapshot -VMName '{unique}' -Name clean -Confirm:$false")
    (vm,) = vm_state(simulator, unique)
    assert (vm["notes"], vm["processor_count"], [c["name"] for c in vm["checkpoints"]]) == ("before", 1, ["clean"])


def test_checkpoint_aliases_work_like_the_snapshot_cmdlets(simulator, session, unique):
    make_vm(session, unique)
    names = run_json(
        session,
        f"Checkpoint-VM -Name '{unique}' -SnapshotName a; Checkpoint-VM '{unique}' b; "
        f"Restore-VMCheckpoint -VMName '{unique}' -Name a -Confirm:$false; "
        f"Remove-VMCheckpoint -VMName '{unique}' -Name b; "
        f"@(Get-VMCheckpoint -VMName '{unique}' | ForEach-Object {{ $_.Name }}) | "
        "ConvertTo-Json -Compress",
    )
    assert names == "a"


def test_get_vmsnapshot_of_a_missing_checkpoint_is_an_error_unless_silenced(session, unique):
    make_vm(session, unique)
    error = run_error(session, f"Get-VMSnapshot -VMName '{unique}' -Name nope")
    assert "Unable to find a snapshot matching the given criteria." in error  # hyperv-real-host.md section 4
    assert "ObjectNotFound" in error
    assert (
        run_json(
            session,
            f"@(Get-VMSnapshot -VMName '{unique}' -Name nope -ErrorAction SilentlyContinue).Count | ConvertTo-Json",
        )
        == 0
    )


def test_a_nested_vm_may_be_restored_while_running_saved_and_given_dynamic_memory(simulator, session, unique):
    """Allowed since build 14361 ([S3]); dynamic memory has no effect ([S4]): hyperv-real-host.md
    section 4. hvsim refused all three."""
    make_vm(session, unique)
    run_json(
        session,
        f"Set-VMProcessor -VMName '{unique}' -ExposeVirtualizationExtensions $true; "
        f"Set-VMMemory -VMName '{unique}' -DynamicMemoryEnabled $true; Set-VM -Name '{unique}' -DynamicMemory; "
        f"Checkpoint-VM -Name '{unique}' -SnapshotName c; Start-VM '{unique}'; "
        f"Restore-VMSnapshot -VMName '{unique}' -Name c -Confirm:$false; Start-VM '{unique}'; "
        f"Stop-VM -Name '{unique}' -Save",
    )
    [vm] = vm_state(simulator, unique)
    assert vm["state"] == "Saved" and vm["dynamic_memory"] is True and vm["expose_virtualization_extensions"]


def test_a_checkpoint_of_a_running_vm_restores_to_saved(simulator, session, unique):
    make_vm(session, unique)
    run_json(
        session,
        f"Start-VM '{unique}'; Checkpoint-VM -Name '{unique}' -SnapshotName live; "
        f"Stop-VM '{unique}' -TurnOff; Restore-VMSnapshot -VMName '{unique}' -Name live -Confirm:$false",
    )
    assert vm_state(simulator, unique)[0]["state"] == "Saved"


# --- removal and files ------------------------------------------------------------------------


def test_remove_vm_leaves_its_disks_and_remove_item_deletes_them(simulator, session, unique):
    folder = f"C:\\Labs\\{unique}"
    run_json(
        session,
        f"New-Item -ItemType Directory -Path '{folder}' -Force | Out-Null; "
        f"New-VHD -Path '{folder}\\d.vhdx' -ParentPath '{BASE}' -Differencing | Out-Null; "
        f"New-VM -Name '{unique}' -VHDPath '{folder}\\d.vhdx' -Path 'C:\\Labs' | Out-Null; "
        f"Remove-VM -Name '{unique}' -Force",
    )
    assert vm_state(simulator, unique) == []
    assert run_json(session, f"Test-Path -LiteralPath '{folder}\\d.vhdx' | ConvertTo-Json") is True
    run_json(session, f"Remove-Item -LiteralPath '{folder}' -Recurse -Force")
    assert run_json(
        session, f"@((Test-Path '{folder}'), (Test-Path '{folder}\\d.vhdx')) | ConvertTo-Json -Compress"
    ) == [False, False]


def test_remove_item_refuses_the_disk_of_a_running_vm(session, unique):
    folder = f"C:\\Labs\\{unique}"
    error = run_error(
        session,
        f"New-Item -ItemType Directory -Path '{folder}' | Out-Null; "
        f"New-VHD -Path '{folder}\\d.vhdx' -ParentPath '{BASE}' -Differencing | Out-Null; "
        f"New-VM -Name '{unique}' -VHDPath '{folder}\\d.vhdx' | Start-VM; "
        f"Remove-Item -LiteralPath '{folder}\\d.vhdx' -Force",
    )
    assert "being used by another process" in error


def test_remove_item_of_a_missing_path_is_an_error(session):
    assert "because it does not exist" in run_error(session, r"Remove-Item -LiteralPath 'C:\nothing\here' -Force")


# --- networking -------------------------------------------------------------------------------


def test_switch_types_private_internal_and_external(session, unique):
    switches = run_json(
        session,
        f"New-VMSwitch -Name '{unique}-p' -SwitchType Private | Out-Null; "
        f"New-VMSwitch -Name '{unique}-i' -SwitchType Internal | Out-Null; "
        f"New-VMSwitch -Name '{unique}-e' -NetAdapterName 'Ethernet 2' -AllowManagementOS "
        f"$false | Out-Null; Get-VMSwitch -Name '{unique}-*' | Sort-Object Name | "
        "Select-Object Name, @{Name='T';Expression={$_.SwitchType.ToString()}}, SwitchType | "
        "ConvertTo-Json -Compress",
    )
    assert switches == [
        {"Name": f"{unique}-e", "T": "External", "SwitchType": 2},
        {"Name": f"{unique}-i", "T": "Internal", "SwitchType": 1},
        {"Name": f"{unique}-p", "T": "Private", "SwitchType": 0},
    ]
    run_json(session, f"Remove-VMSwitch -Name '{unique}-e' -Force")


def test_an_external_switch_needs_an_existing_network_adapter(session, unique):
    assert "No MSFT_NetAdapter objects found" in run_error(
        session, f"New-VMSwitch -Name '{unique}' -NetAdapterName 'Ethernet 9'"
    )


def test_removing_a_switch_succeeds_and_leaves_connected_adapters_disconnected(simulator, session, unique):
    run_json(session, f"New-VMSwitch -Name '{unique}' -SwitchType Private | Out-Null")
    make_vm(session, unique, extra=f"-SwitchName '{unique}'")
    run_json(session, f"Remove-VMSwitch -Name '{unique}' -Force")
    assert vm_state(simulator, unique)[0]["adapters"][0]["switch_name"] is None
    assert not [s for s in simulator.state()["switches"] if s["name"] == unique]


def test_connect_vm_network_adapter_moves_the_adapter(simulator, session, unique):
    make_vm(session, unique)
    run_json(
        session,
        f"New-VMSwitch -Name '{unique}' -SwitchType Private | Out-Null; "
        f"Connect-VMNetworkAdapter -VMName '{unique}' -SwitchName '{unique}'",
    )
    assert run_json(session, f"(Get-VMNetworkAdapter -VMName '{unique}').SwitchName | ConvertTo-Json") == unique


def test_net_nat_create_get_and_remove_and_a_second_one_is_refused(simulator, session, unique):
    run_json(session, "foreach($n in @(Get-NetNat)){Remove-NetNat -Name $n.Name -Confirm:$false}")
    nat = run_json(
        session,
        f"New-NetNat -Name '{unique}' -InternalIPInterfaceAddressPrefix 10.213.7.0/24 | "
        "Select-Object Name, InternalIPInterfaceAddressPrefix | ConvertTo-Json -Compress",
    )
    assert nat == {"Name": unique, "InternalIPInterfaceAddressPrefix": "10.213.7.0/24"}
    # One NAT network per host (hyperv-real-host.md [S5][S6]): overlapping or not.
    for prefix in ("10.213.7.128/25", "10.214.0.0/24"):
        assert "The parameter is incorrect." in run_error(
            session, f"New-NetNat -Name '{unique}-2' -InternalIPInterfaceAddressPrefix {prefix}"
        )
    run_json(session, f"Remove-NetNat -Name '{unique}' -Confirm:$false")
    assert "No MSFT_NetNat objects found" in run_error(session, f"Get-NetNat -Name '{unique}'")


def test_adapter_guards_and_mac_spoofing_are_on_off_enums(simulator, session, unique):
    make_vm(session, unique)
    result = run_json(
        session,
        f"Set-VMNetworkAdapter -VMName '{unique}' -MacAddressSpoofing On -DhcpGuard On "
        f"-RouterGuard On; Get-VMNetworkAdapter -VMName '{unique}' | Select-Object "
        "@{Name='M';Expression={$_.MacAddressSpoofing.ToString()}}, DhcpGuard | "
        "ConvertTo-Json -Compress",
    )
    assert result == {"M": "On", "DhcpGuard": 0}
    adapter = vm_state(simulator, unique)[0]["adapters"][0]
    assert (adapter["mac_address_spoofing"], adapter["dhcp_guard"], adapter["router_guard"]) == (True, True, True)


def test_access_vlan_needs_an_id_between_1_and_4094(session, unique):
    make_vm(session, unique)
    assert "greater than the maximum allowed range of 4094" in run_error(
        session, f"Set-VMNetworkAdapterVlan -VMName '{unique}' -Access -VlanId 4095"
    )
    assert "missing mandatory parameters: VlanId" in run_error(
        session, f"Set-VMNetworkAdapterVlan -VMName '{unique}' -Access"
    )
    vlan = run_json(
        session,
        f"Set-VMNetworkAdapterVlan -VMName '{unique}' -Access -VlanId 42; "
        f"Get-VMNetworkAdapterVlan -VMName '{unique}' | Select-Object AccessVlanId, "
        "@{Name='Mode';Expression={$_.OperationMode.ToString()}} | ConvertTo-Json -Compress",
    )
    assert vlan == {"AccessVlanId": 42, "Mode": "Access"}


# --- host -------------------------------------------------------------------------------------


def test_get_vmhost_reports_capacity_and_paths(session):
    host = run_json(
        session,
        "Get-VMHost | Select-Object LogicalProcessorCount, MemoryCapacity, VirtualMachinePath | "
        "ConvertTo-Json -Compress",
    )
    assert host == {
        "LogicalProcessorCount": 64,
        "MemoryCapacity": 262144 * 1024**2,
        "VirtualMachinePath": r"C:\ProgramData\Microsoft\Windows\Hyper-V",
    }


def test_a_running_hypervisor_hides_the_cpu_features_from_win32_processor(session):
    facts = run_json(
        session,
        "$c = @(Get-CimInstance Win32_Processor)[0]; $s = Get-CimInstance -ClassName "
        "Win32_ComputerSystem; [pscustomobject]@{M=$c.Manufacturer;"
        "F=$c.VirtualizationFirmwareEnabled;H=$s.HypervisorPresent} | ConvertTo-Json -Compress",
    )
    assert facts == {"M": "GenuineIntel", "F": False, "H": True}


def test_doctor_queries_report_the_os_feature_and_storage(session):
    facts = run_json(
        session,
        "$os = Get-CimInstance Win32_OperatingSystem; $f = Get-WindowsFeature Hyper-V; "
        "$o = Get-WindowsOptionalFeature -Online -FeatureName Microsoft-Hyper-V; "
        "$d = Get-PSDrive C; [pscustomobject]@{C=$os.Caption;B=$os.BuildNumber;"
        "I=$f.InstallState.ToString();S=$o.State.ToString();Free=($d.Free -gt 0);"
        "V=(Get-VMHostSupportedVersion -Default).Version.ToString()} | ConvertTo-Json -Compress",
    )
    assert facts == {
        "C": "Microsoft Windows Server 2022 Datacenter",
        "B": "20348",
        "I": "Installed",
        "S": "Enabled",
        "Free": True,
        "V": "10.0",
    }


def test_grant_vm_connect_access_records_the_user(simulator, session, unique):
    make_vm(session, unique)
    run_json(session, f"Grant-VMConnectAccess -VMName '{unique}' -UserName 'LAB\\student1'")
    assert vm_state(simulator, unique)[0]["connect_access"] == ["LAB\\student1"]


def test_measure_vm_needs_metering_enabled(session, unique):
    make_vm(session, unique)
    assert "Resource metering is not enabled" in run_error(session, f"Measure-VM -VMName '{unique}'")
    report = run_json(
        session,
        f"Enable-VMResourceMetering -VMName '{unique}'; Start-VM '{unique}'; Measure-VM "
        f"-VMName '{unique}' | Select-Object AverageMemoryUsage | ConvertTo-Json -Compress",
    )
    assert report == {"AverageMemoryUsage": 1024}


# --- hosts with a different shape (their own simulator processes) -----------------------------


def test_start_vm_is_refused_when_host_memory_is_exhausted():
    with run_simulator(memory_mb=8192) as small:
        session = small.session()
        run_json(
            session,
            "New-VM -Name a -MemoryStartupBytes 4GB -NoVHD | Start-VM; "
            "New-VM -Name b -MemoryStartupBytes 4GB -NoVHD | Out-Null",
        )
        error = run_error(session, "Start-VM -Name b")
        assert "Not enough memory in the system to start the virtual machine b." in error
        assert [vm["state"] for vm in small.state()["vms"]] == ["Running", "Off"]


def test_host_shape_switches_feed_the_doctor_and_block_nesting():
    with run_simulator(
        cpu_vendor="amd", os_build=17763, no_firmware_virtualization=True, missing_base_image=[BASE]
    ) as sim:
        session = sim.session()
        facts = run_json(
            session,
            "$c = @(Get-CimInstance Win32_Processor)[0]; [pscustomobject]@{"
            "M=$c.Manufacturer; F=$c.VirtualizationFirmwareEnabled; "
            "H=(Get-CimInstance Win32_ComputerSystem).HypervisorPresent; "
            "V=@(Get-VMHostSupportedVersion | ForEach-Object { $_.Version.ToString() })[-1]; "
            f"Base=(Test-Path '{BASE}')}} | ConvertTo-Json -Compress",
        )
        assert facts == {"M": "AuthenticAMD", "F": False, "H": False, "V": "9.0", "Base": False}
        assert "build 20348" in run_error(
            session, "New-VM -Name n -NoVHD | Out-Null; Set-VMProcessor -VMName n -ExposeVirtualizationExtensions $true"
        )
        assert "hypervisor is not running" in run_error(session, "Start-VM -Name n")


def test_amd_nesting_needs_configuration_version_9_3_on_build_20348():
    with run_simulator(cpu_vendor="amd") as sim:
        session = sim.session()
        error = run_error(
            session,
            "New-VM -Name old -NoVHD -Version 9.0 | Out-Null; "
            "Set-VMProcessor -VMName old -ExposeVirtualizationExtensions $true",
        )
        assert "lower than 9.3" in error
        run_json(
            session,
            "New-VM -Name new -NoVHD -Version 9.3 | Out-Null; "
            "Set-VMProcessor -VMName new -ExposeVirtualizationExtensions $true",
        )


def test_without_the_hyperv_role_its_cmdlets_are_not_recognized():
    with run_simulator(no_hyperv_role=True) as sim:
        error = run_error(sim.session(), "Get-VM")
        assert error.startswith("Get-VM : The term 'Get-VM' is not recognized as the name of a cmdlet")
        state = run_json(sim.session(), "(Get-WindowsFeature Hyper-V).InstallState.ToString() | ConvertTo-Json")
        assert state == "Available"


def test_script_failed_helper_reports_stderr(session):
    with pytest.raises(ScriptFailed) as failure:
        run_json(session, "throw 'visible'")
    assert "visible" in failure.value.error
