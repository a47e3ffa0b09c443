# ruff: noqa: E501 - PowerShell templates keep one statement per line
"""Hyper-V over WinRM: ``HyperVDriver`` implements ``HypervisorDriver`` with one short PowerShell
script per operation (stop may need two), each in one WinRM shell.

Scripts are constant templates below. Values enter only through ``build_script``'s
``$Var=<literal>`` prologue (see powershell.py); the templates refer to those variables. Enums
are stringified in the script (``.ToString()``) because Windows PowerShell 5.1 serializes them as
numbers. Every VM-level script first resolves the name to exactly one VM and refuses (HostError)
if two VMs share it, because New-VM allows duplicate names.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import replace
from typing import Any

from workers.hyperv.errors import CommandTooLong, HostError, InvalidState, InvalidValue, Timeout
from workers.hyperv.interface import (
    CLEAN_CHECKPOINT,
    HOST_NAT_NAME,
    NOTES_TAG,
    BaseImage,
    ConnectionSpec,
    DiskSpace,
    HostFacts,
    HostReadiness,
    SwitchSpec,
    TaggedVm,
    Usage,
    VmSpec,
    VmStatus,
    lab_id_from_notes,
)
from workers.hyperv.names import (
    SECURE_BOOT_OFF,
    check_account,
    check_adapter_name,
    check_base_image_path,
    check_checkpoint_name,
    check_switch_name,
    check_vm_name,
    check_windows_path,
)
from workers.hyperv.powershell import build_script
from workers.hyperv.winrm_client import STEP_MARKER, WinRMClient

MIB = 1024 * 1024

# The exactly-one-VM guard every VM script starts with. Under ErrorAction Stop, Get-VM raises
# the host's own "unable to find" error (NotFound) when the VM is absent.
_ONE_VM = """
$v=@(Get-VM -Name $Name)
if($v.Count -gt 1){throw ('nestlab: '+$v.Count+' virtual machines are named '+$Name+'; refusing to guess')}
$vm=$v[0]
"""
# Same guard for scripts where an absent VM is fine ($vm is then $null). Reads that may find
# nothing filter a full listing rather than silence errors, so a failing host is never taken
# for an empty one.
_AT_MOST_ONE_VM = """
$v=@(Get-VM | Where-Object {$_.Name -eq $Name})
if($v.Count -gt 1){throw ('nestlab: '+$v.Count+' virtual machines are named '+$Name+'; refusing to guess')}
$vm=$v[0]
"""
_STATE_JSON = """
Get-VM -Name $Name | Select-Object @{Name='State';Expression={$_.State.ToString()}} | ConvertTo-Json -Compress
"""

# Without the Hyper-V role its cmdlets do not exist, and a missing command is not silenced by
# -ErrorAction: hence try/catch around them, so the doctor can still say what is missing.
# The role shows as the vmms service and an answering Get-VMHost, not Get-WindowsFeature, which
# can hang (hyperv-real-host.md section 5 item 6). Base images are asked apart, in batches
# (base_images_present), so the script's length never depends on their number.
HOST_FACTS = """
$h=$null;$versions=@();$hv=$false
try{$h=Get-VMHost;$hv=$true
$versions=@(Get-VMHostSupportedVersion | ForEach-Object {@{Version=$_.Version.ToString();IsDefault=[bool]$_.IsDefault}})}catch{}
if(@(Get-Service -Name vmms -ErrorAction SilentlyContinue).Count -gt 0){$hv=$true}
$os=Get-CimInstance -ClassName Win32_OperatingSystem
$cs=Get-CimInstance -ClassName Win32_ComputerSystem
$processor=@(Get-CimInstance -ClassName Win32_Processor)[0]
$disks=@(Get-CimInstance -ClassName Win32_LogicalDisk | Where-Object {$_.DriveType -eq 3} | Select-Object DeviceID,FreeSpace,Size)
@{
ComputerName=$os.CSName;Caption=$os.Caption;Build=$os.BuildNumber
FreeKB=$os.FreePhysicalMemory;TotalKB=$os.TotalVisibleMemorySize
HypervisorPresent=$cs.HypervisorPresent;Manufacturer=$processor.Manufacturer;CpuName=$processor.Name
FirmwareVirt=$processor.VirtualizationFirmwareEnabled;Slat=$processor.SecondLevelAddressTranslationExtensions
VmMonitor=$processor.VMMonitorModeExtensions;HyperV=$hv
Lp=$h.LogicalProcessorCount;Memory=$h.MemoryCapacity
VmPath=$h.VirtualMachinePath;VhdPath=$h.VirtualHardDiskPath
Versions=$versions;Disks=$disks;UiCulture=$PSUICulture
} | ConvertTo-Json -Depth 3 -Compress
"""
# What the doctor asks beyond the facts (docs/hyperv-real-host.md, section 3, "missing checks"):
# errors are told apart by id, not text, so this reads the same on a host in any language.
HOST_READINESS = """
$module=$true;$vmhost='';$svc=$null;$admin=$null;$nats=$null;$present=$null;$ips=@()
try{Get-VMHost | Out-Null}catch{if($_.FullyQualifiedErrorId -like 'CommandNotFoundException*'){$module=$false}else{$vmhost=$_.Exception.Message}}
try{$svc=(Get-Service -Name vmms).Status.ToString()}catch{}
$os=Get-CimInstance -ClassName Win32_OperatingSystem
try{$admin=([Security.Principal.WindowsPrincipal][Security.Principal.WindowsIdentity]::GetCurrent()).IsInRole([Security.Principal.WindowsBuiltInRole]::Administrator)}catch{}
try{$nats=@(Get-NetNat | ForEach-Object {$_.Name})}catch{}
if($Nic){$present=@(Get-NetAdapter | Where-Object {$_.Name -eq $Nic}).Count -gt 0
$ips=@(Get-NetIPAddress | Where-Object {$_.InterfaceAlias -eq $Nic} | ForEach-Object {$_.IPAddress})}
@{Module=$module;VmHostError=$vmhost;Vmms=$svc;Dep=$os.DataExecutionPrevention_Available;Admin=$admin
NetNats=$nats;NicPresent=$present;NicAddresses=$ips} | ConvertTo-Json -Depth 3 -Compress
"""
# The doctor asks about base images apart from the facts, in batches that each fit the
# command-line limit, so any number of templates can never crowd out the facts.
BASE_IMAGES = """
$img=@(foreach($i in $Images){@{Path=$i;Present=[bool](Test-Path -LiteralPath $i)}})
ConvertTo-Json -InputObject $img -Compress
"""

_ENSURE_SWITCH_HEAD = """
$s=@(Get-VMSwitch | Where-Object {$_.Name -eq $Name})
if($s.Count -gt 1){throw ('nestlab: '+$s.Count+' switches are named '+$Name+'; refusing to guess')}
if($s.Count -eq 1 -and $s[0].SwitchType.ToString() -ne $Type){throw ('nestlab: switch '+$Name+' belongs to something else: it is '+$s[0].SwitchType.ToString()+', not '+$Type)}
"""
ENSURE_PRIVATE_SWITCH = (
    _ENSURE_SWITCH_HEAD
    + """
if($s.Count -eq 0){New-VMSwitch -Name $Name -SwitchType Private | Out-Null}
ConvertTo-Json -InputObject $Name -Compress
"""
)
# NAT mode: the host's one NetNat ($Nat over the whole pool; Windows supports one per host,
# hyperv-real-host.md [S5][S6]) is checked first, so a host with a foreign NetNat changes nothing;
# then the tenant's Internal switch with the gateway (its segment's first address) on its interface.
ENSURE_NAT_SWITCH = (
    _ENSURE_SWITCH_HEAD
    + """
$n=@(Get-NetNat);$ours=@($n | Where-Object {$_.Name -eq $Nat})
if($ours.Count -eq 0){
if($n.Count -gt 0){throw ('nestlab: this host already has the NAT network '+$n[0].Name+' and Windows supports one per host; remove it, or let Nestlab own it')}
New-NetNat -Name $Nat -InternalIPInterfaceAddressPrefix $Pool | Out-Null}
elseif($ours[0].InternalIPInterfaceAddressPrefix -ne $Pool){throw ('nestlab: NAT network '+$Nat+' covers '+$ours[0].InternalIPInterfaceAddressPrefix+', not the pool '+$Pool)}
if($s.Count -eq 0){New-VMSwitch -Name $Name -SwitchType Internal | Out-Null}
$if='vEthernet ('+$Name+')'
if(-not (Get-NetIPAddress | Where-Object {$_.InterfaceAlias -eq $if -and $_.IPAddress -eq $Gateway})){New-NetIPAddress -InterfaceAlias $if -IPAddress $Gateway -PrefixLength $Length | Out-Null}
ConvertTo-Json -InputObject $Name -Compress
"""
)
ENSURE_VLAN_SWITCH = (
    _ENSURE_SWITCH_HEAD
    + """
if($s.Count -eq 0){New-VMSwitch -Name $Name -NetAdapterName $Nic -AllowManagementOS $false | Out-Null}
ConvertTo-Json -InputObject $Name -Compress
"""
)
REMOVE_SWITCH = """
$s=@(Get-VMSwitch | Where-Object {$_.Name -eq $Name})
$a=@(Get-VMNetworkAdapter -All | Where-Object {$_.SwitchName -eq $Name -and -not $_.IsManagementOs})
if($a.Count -gt 0){
if(-not $Force){throw ('nestlab: switch '+$Name+' still has '+$a.Count+' connected virtual machine adapters; disconnect them or force the removal')}
$a | Disconnect-VMNetworkAdapter
}
if(Get-NetNat | Where-Object {$_.Name -eq $Name}){Remove-NetNat -Name $Name -Confirm:$false}
if($s.Count -gt 0){Remove-VMSwitch -Name $Name -Force}
ConvertTo-Json -InputObject $s.Count -Compress
"""

# Building a lab VM takes two scripts in one shell (one would come too close to the
# command-line limit). The first makes the disk and the VM and tags it, and says whether the
# clean checkpoint (the last step) exists; only if not does the second configure the VM and take
# the checkpoint. Each step reads first, so a run after any fault finishes the job.
# A missing switch is asked for by name first: New-VM's own error for it is an InvalidArgument,
# which is not "not found" (hyperv-real-host.md section 5 item 7), and its text is localised.
ENSURE_VM_CREATED = (
    _AT_MOST_ONE_VM
    + """
$dir=$Root+'\\'+$Name;$disk=$dir+'\\'+$Name+'.vhdx'
if($vm.Notes -and $vm.Notes -ne $Notes){throw ('nestlab: VM '+$Name+' belongs to something else (its Notes differ)')}
$sw=@(Get-VMSwitch | Where-Object {$_.Name -eq $Switch})
if($sw.Count -eq 0){throw ('nestlab: switch '+$Switch+' was not found')}
if(-not $Vlan -and $sw[0].SwitchType.ToString() -eq 'External'){throw ('nestlab: switch '+$Switch+' is shared, so a lab on it needs an access VLAN')}
if(-not $vm){
if(-not (Test-Path -LiteralPath $disk)){
New-Item -ItemType Directory -Path $dir -Force | Out-Null
New-VHD -Path $disk -ParentPath $Base -Differencing | Out-Null;$Step+'disk'}
$vm=New-VM -Name $Name -Generation $Gen -Version $Ver -MemoryStartupBytes $Mem -VHDPath $disk -SwitchName $Switch -Path $Root;$Step+'vm'}
if($vm.Notes -ne $Notes){
Set-VM -Name $Name -Notes $Notes -AutomaticCheckpointsEnabled $false -CheckpointType Standard;$Step+'notes'}
@{VMId=$vm.VMId.ToString();Built=[bool](Get-VMSnapshot -VMName $Name | Where-Object {$_.Name -eq $Clean})} | ConvertTo-Json -Compress
"""
)
_CONFIGURE_HEAD = (
    _ONE_VM
    + """
$memory=Get-VMMemory -VMName $Name
if($memory.DynamicMemoryEnabled -or $memory.Startup -ne $Mem){Set-VMMemory -VMName $Name -DynamicMemoryEnabled $false -StartupBytes $Mem;$Step+'memory'}
$p=Get-VMProcessor -VMName $Name
if($p.Count -ne $Cpu -or -not $p.ExposeVirtualizationExtensions){Set-VMProcessor -VMName $Name -Count $Cpu -ExposeVirtualizationExtensions $true;$Step+'processor'}
$n=@(Get-VMNetworkAdapter -VMName $Name)[0];$sw=$n.SwitchName -eq $Switch
if(-not $sw){Connect-VMNetworkAdapter -VMName $Name -SwitchName $Switch}
if(-not $sw -or $n.DhcpGuard.ToString() -ne 'On' -or $n.RouterGuard.ToString() -ne 'On' -or $n.MacAddressSpoofing.ToString() -ne 'On'){
Set-VMNetworkAdapter -VMName $Name -DhcpGuard On -RouterGuard On -MacAddressSpoofing On;$Step+'network'}
"""
)
_CONFIGURE_TAIL = """if($Vlan){$l=Get-VMNetworkAdapterVlan -VMName $Name
if($l.OperationMode.ToString() -ne 'Access' -or $l.AccessVlanId -ne $Vlan){Set-VMNetworkAdapterVlan -VMName $Name -Access -VlanId $Vlan;$Step+'vlan'}}
if(-not (Get-VMSnapshot -VMName $Name | Where-Object {$_.Name -eq $Clean})){Checkpoint-VM -Name $Name -SnapshotName $Clean;$Step+'checkpoint'}
ConvertTo-Json -InputObject $vm.VMId.ToString() -Compress
"""

# Generation 2 only (Generation 1 has no VMFirmware), between the two halves of ENSURE_VM_CONFIGURED: the
# template's Secure Boot template, or Secure Boot off (hyperv-real-host.md [S14]).
FIRMWARE_SECURE_BOOT = """$f=Get-VMFirmware -VMName $Name
if($f.SecureBoot.ToString() -ne 'On' -or $f.SecureBootTemplate -ne $Boot){Set-VMFirmware -VMName $Name -EnableSecureBoot On -SecureBootTemplate $Boot;$Step+'firmware'}
"""
FIRMWARE_NO_SECURE_BOOT = """if((Get-VMFirmware -VMName $Name).SecureBoot.ToString() -ne 'Off'){Set-VMFirmware -VMName $Name -EnableSecureBoot Off;$Step+'firmware'}
"""

ENSURE_VM_CONFIGURED = _CONFIGURE_HEAD + _CONFIGURE_TAIL
ENSURE_VM_CONFIGURED_SECURE_BOOT = _CONFIGURE_HEAD + FIRMWARE_SECURE_BOOT + _CONFIGURE_TAIL
ENSURE_VM_CONFIGURED_NO_SECURE_BOOT = _CONFIGURE_HEAD + FIRMWARE_NO_SECURE_BOOT + _CONFIGURE_TAIL

# NAT mode: tenants share the host's one NetNat, so each lab's adapter gets port ACLs (docs/hyperv.md,
# Networking): deny the whole pool, allow its own segment. Hyper-V applies the most specific
# matching ACL (UNVERIFIED on a host: hvsim records ACLs but filters no packets).
ENSURE_VM_ISOLATED = (
    _ONE_VM
    + """
$a=@(Get-VMNetworkAdapterAcl -VMName $Name)
if(-not ($a | Where-Object {$_.RemoteAddress -eq $Pool -and $_.Action.ToString() -eq 'Deny'})){Add-VMNetworkAdapterAcl -VMName $Name -RemoteIPAddress $Pool -Direction Both -Action Deny;$Step+'isolation'}
if(-not ($a | Where-Object {$_.RemoteAddress -eq $Segment -and $_.Action.ToString() -eq 'Allow'})){Add-VMNetworkAdapterAcl -VMName $Name -RemoteIPAddress $Segment -Direction Both -Action Allow}
ConvertTo-Json -InputObject $vm.VMId.ToString() -Compress
"""
)

START_VM = (
    _ONE_VM
    + """
if(@('Running','Starting') -notcontains $vm.State.ToString()){Start-VM -Name $Name}
"""
    + _STATE_JSON
)
STOP_VM_GRACEFULLY = (
    _ONE_VM
    + """
if($vm.State.ToString() -ne 'Off'){Stop-VM -Name $Name -Force}
"""
    + _STATE_JSON
)
# A graceful shutdown that stop_vm stopped waiting for still runs on the host (the VM is
# Stopping). Whether -TurnOff is accepted meanwhile is undocumented (hyperv-real-host.md, section
# 5 item 9), so wait up to $Tries seconds for the shutdown to end before pulling the power.
TURN_OFF_VM = (
    _ONE_VM
    + """
foreach($i in (1 .. $Tries)){if($vm.State.ToString() -eq 'Stopping'){Start-Sleep -Seconds 1;$vm=Get-VM -Name $Name}}
if($vm.State.ToString() -ne 'Off'){Stop-VM -Name $Name -TurnOff -Force}
"""
    + _STATE_JSON
)
# Check the checkpoint exists (NotFound before anything changes), power off, apply, and start
# again if it was running: the same on every build. (Nested VMs may be restored while running
# since build 14361, hyperv-real-host.md section 4; the driver does not need that.)
RESTORE_CHECKPOINT = (
    _ONE_VM
    + """
$was=$vm.State.ToString()
Get-VMSnapshot -VMName $Name -Name $Checkpoint | Out-Null
if($was -ne 'Off'){Stop-VM -Name $Name -TurnOff -Force}
Restore-VMSnapshot -VMName $Name -Name $Checkpoint -Confirm:$false
if($was -eq 'Running'){Start-VM -Name $Name}
"""
    + _STATE_JSON
)
ENSURE_CHECKPOINT = (
    _ONE_VM
    + """
if(-not (Get-VMSnapshot -VMName $Name | Where-Object {$_.Name -eq $Checkpoint})){Checkpoint-VM -Name $Name -SnapshotName $Checkpoint}
"""
    + _STATE_JSON
)
REMOVE_CHECKPOINT = (
    _ONE_VM
    + """
if(Get-VMSnapshot -VMName $Name | Where-Object {$_.Name -eq $Checkpoint}){Remove-VMSnapshot -VMName $Name -Name $Checkpoint}
"""
    + _STATE_JSON
)
DELETE_VM = (
    _AT_MOST_ONE_VM
    + """
$dir=$Root+'\\'+$Name;$disk=$dir+'\\'+$Name+'.vhdx'
if($vm){
if($vm.Notes -and -not $vm.Notes.StartsWith($Tag)){throw ('nestlab: VM '+$Name+' is not tagged by Nestlab; refusing to delete it')}
if($vm.State.ToString() -ne 'Off'){Stop-VM -Name $Name -TurnOff -Force}
Remove-VM -Name $Name -Force}
$gone=$false;$held=$null
foreach($i in (1 .. $Tries)){if(-not $gone){try{
if(Test-Path -LiteralPath $disk){Remove-Item -LiteralPath $disk -Force}
if(Test-Path -LiteralPath $dir){Remove-Item -LiteralPath $dir -Recurse -Force}
$gone=$true}catch{
if($_.FullyQualifiedErrorId -notlike 'RemoveFileSystemItemIOError*'){throw $_}
$held=$_;if($i -lt $Tries){Start-Sleep -Seconds $Pause}}}}
if(-not $gone){throw $held}
ConvertTo-Json -InputObject ([bool]$vm) -Compress
"""
)
# The heartbeat service is picked by its id, "Microsoft:<VMId>\\<GUID>", and read by its status
# enum, not by its name or description: both are localised ("Takt" on German hosts,
# hyperv-real-host.md section 5 item 8, [S22]).
HEARTBEAT_SERVICE_GUID = "84EAAE65-2F2E-45F5-9BB5-0E857DC8EB47"
#: How long stop_vm waits for a graceful shutdown it stopped waiting for to end (the VM is
#: Stopping) before it pulls the power; see TURN_OFF_VM. UNVERIFIED on a real host.
STOP_SETTLE_S = 15
#: Remove-VM merges the VM's checkpoints into its disk after the VM is gone, holding the files
#: open ("file in use"); DELETE_VM retries the removal while a sharing violation
#: (RemoveFileSystemItemIOError, an IOException, whatever the host's language) holds them, for at
#: most this long, but never past half the call's deadline. docs/hyperv-real-host.md, section 5
#: item 2. How long a real merge takes is UNVERIFIED (deploy/REAL_HOST.md).
DELETE_RETRY_S = 90
DELETE_RETRY_PAUSE_S = 1
CHECKPOINT_NAMES = (
    _ONE_VM
    + """
$r=@(Get-VMSnapshot -VMName $Name | ForEach-Object {$_.Name})
ConvertTo-Json -InputObject $r -Compress
"""
)
VM_STATUS = (
    _ONE_VM
    + """
$hb=@(Get-VMIntegrationService -VMName $Name | Where-Object {([string]$_.Id).EndsWith('\\"""
    + HEARTBEAT_SERVICE_GUID
    + """')})
$st=$null;if($hb.Count -gt 0 -and $null -ne $hb[0].PrimaryOperationalStatus){$st=$hb[0].PrimaryOperationalStatus.ToString()}
$ips=@(Get-VMNetworkAdapter -VMName $Name | ForEach-Object {$_.IPAddresses})
@{Name=$vm.Name;VMId=$vm.VMId.ToString();State=$vm.State.ToString()
Heartbeat=$st;IPAddresses=$ips;Uptime=[int]$vm.Uptime.TotalSeconds} | ConvertTo-Json -Compress
"""
)
LIST_TAGGED_VMS = """
$r=@(Get-VM | Where-Object {$_.Notes -and $_.Notes.StartsWith($Tag)} | Select-Object Name,@{Name='VMId';Expression={$_.VMId.ToString()}},@{Name='State';Expression={$_.State.ToString()}},Notes)
ConvertTo-Json -InputObject $r -Compress
"""
GRANT_CONSOLE = (
    _ONE_VM
    + """
if(-not (Get-VMConnectAccess -VMName $Name | Where-Object {$_.UserName -eq $User})){Grant-VMConnectAccess -VMName $Name -UserName $User}
ConvertTo-Json -InputObject $vm.VMId.ToString() -Compress
"""
)
MEASURE_VM = (
    _ONE_VM
    + """
if(-not $vm.ResourceMeteringEnabled){Enable-VMResourceMetering -VMName $Name}
Measure-VM -VMName $Name | Select-Object AverageProcessorUsage,AverageMemoryUsage,MaximumMemoryUsage,MinimumMemoryUsage,TotalDiskAllocation | ConvertTo-Json -Compress
"""
)


class HyperVDriver:
    """``HypervisorDriver`` for one Hyper-V host over WinRM. See interface.py for what each
    operation guarantees. ``round_trips`` counts SOAP requests (benchmarks). Not thread-safe."""

    def __init__(self, conn: ConnectionSpec) -> None:
        self.conn = conn
        self.client = WinRMClient(conn)

    def __repr__(self) -> str:
        return f"HyperVDriver({self.conn!r})"

    def session(self) -> AbstractContextManager[None]:
        """One WinRM shell for every operation inside the block."""
        return self.client.shell()

    @property
    def round_trips(self) -> int:
        return self.client.round_trips

    def host_facts(self, base_images: list[str]) -> HostFacts:
        images = [check_windows_path(path, what="base image path") for path in base_images]
        with self.client.shell():
            facts = _host_facts(self.client.run_script(build_script(HOST_FACTS)))
            if images:
                facts = replace(facts, base_images=tuple(self.base_images_present(images)))
        return facts

    def host_readiness(self, *, external_adapter: str | None = None) -> HostReadiness:
        nic = check_adapter_name(external_adapter) if external_adapter else None
        raw = self.client.run_script(build_script(HOST_READINESS, Nic=nic))
        nats = _field(raw, "NetNats", object, default=None)
        return HostReadiness(
            hyperv_module=_optional_bool(_field(raw, "Module", object, default=None)),
            vmms_status=_field(raw, "Vmms", str, default=None),
            vmhost_error=_field(raw, "VmHostError", str, default=""),
            dep_available=_optional_bool(_field(raw, "Dep", object, default=None)),
            elevated=_optional_bool(_field(raw, "Admin", object, default=None)),
            netnats=None if nats is None else tuple(str(name) for name in _as_list(nats)),
            adapter_present=_optional_bool(_field(raw, "NicPresent", object, default=None)) if nic else None,
            adapter_addresses=tuple(str(ip) for ip in _as_list(_field(raw, "NicAddresses", object, default=None))),
        )

    def base_images_present(self, paths: list[str]) -> list[BaseImage]:
        found: dict[str, BaseImage] = {}
        batches: list[list[str]] = []
        for path in paths:
            try:
                check_base_image_path(path)
            except InvalidValue as exc:
                found[path] = BaseImage(path=path, present=False, problem=str(exc))
                continue
            if batches and _fits(batches[-1] + [path]):
                batches[-1].append(path)
            else:
                batches.append([path])
        with self.client.shell():
            for batch in batches:
                rows = _as_list(self.client.run_script(_base_images_script(batch)))
                present = {_field(row, "Path", str): bool(row.get("Present")) for row in rows if isinstance(row, dict)}
                for path in batch:
                    found[path] = BaseImage(path=path, present=present.get(path, False))
        return [found[path] for path in paths]

    def ensure_switch(self, spec: SwitchSpec) -> None:
        if spec.mode == "private":
            script = build_script(ENSURE_PRIVATE_SWITCH, Name=spec.name, Type="Private")
        elif spec.mode == "nat":
            network = spec.nat_network
            script = build_script(
                ENSURE_NAT_SWITCH,
                Name=spec.name,
                Type="Internal",
                Gateway=str(next(network.hosts())),
                Length=network.prefixlen,
                Nat=HOST_NAT_NAME,
                Pool=spec.nat_pool,
            )
        else:
            script = build_script(ENSURE_VLAN_SWITCH, Name=spec.name, Type="External", Nic=spec.external_adapter)
        self.client.run_script(script)

    def remove_switch(self, name: str, *, force: bool = False) -> None:
        check_switch_name(name)
        self.client.run_script(build_script(REMOVE_SWITCH, Name=name, Force=bool(force)))

    def ensure_vm(self, spec: VmSpec, *, on_step: Callable[[str], None] | None = None) -> str:
        values = dict(
            Name=spec.name,
            Switch=spec.switch_name,
            Mem=spec.memory_mb * MIB,
            Vlan=spec.vlan_id,
            Clean=CLEAN_CHECKPOINT,
            Step=STEP_MARKER,
        )
        with self.client.shell():
            created = self.client.run_script(
                build_script(
                    ENSURE_VM_CREATED,
                    Root=spec.vm_root,
                    Base=spec.base_image_path,
                    Notes=spec.notes,
                    Gen=spec.generation,
                    Ver=spec.config_version,
                    **values,
                ),
                on_step=on_step,
            )
            vm_id = _field(created, "VMId", str)
            if not _field(created, "Built", bool, default=False):
                if spec.nat_segment is not None:
                    isolate = build_script(
                        ENSURE_VM_ISOLATED,
                        Name=spec.name,
                        Pool=spec.nat_pool,
                        Segment=spec.nat_segment,
                        Step=STEP_MARKER,
                    )
                    self.client.run_script(isolate, on_step=on_step)
                if spec.generation == 1:  # BIOS firmware: no Secure Boot to set
                    script = build_script(ENSURE_VM_CONFIGURED, Cpu=spec.vcpus, **values)
                elif spec.secure_boot == SECURE_BOOT_OFF:
                    script = build_script(ENSURE_VM_CONFIGURED_NO_SECURE_BOOT, Cpu=spec.vcpus, **values)
                else:
                    script = build_script(
                        ENSURE_VM_CONFIGURED_SECURE_BOOT, Cpu=spec.vcpus, Boot=spec.secure_boot, **values
                    )
                self.client.run_script(script, on_step=on_step)
        return vm_id

    def start_vm(self, name: str) -> None:
        self._run_vm_script(START_VM, name)

    def stop_vm(self, name: str, *, graceful_timeout_s: int = 60) -> None:
        """Ask the guest to shut down; if it is not Off within ``graceful_timeout_s`` (the
        shutdown command is then terminated), or the host refuses a guest shutdown (no shutdown
        integration service, say), pull the power, after waiting up to ``STOP_SETTLE_S`` for a
        shutdown that is still running to end. Both steps share one shell."""
        check_vm_name(name)
        with self.client.shell():
            try:
                graceful_deadline_s = min(graceful_timeout_s, self.conn.call_deadline_s)
                state = self.client.run_script(
                    build_script(STOP_VM_GRACEFULLY, Name=name), deadline_s=graceful_deadline_s
                )
            except (Timeout, InvalidState, HostError):
                state = None
            if _field(state, "State", str, default="") != "Off":
                settle_s = int(min(STOP_SETTLE_S, self.conn.call_deadline_s / 2))
                self.client.run_script(build_script(TURN_OFF_VM, Name=name, Tries=max(1, settle_s)))

    def reset_vm(self, name: str) -> None:
        self.restore_vm(name, CLEAN_CHECKPOINT)

    def checkpoint_vm(self, name: str, checkpoint: str) -> None:
        self._run_vm_script(ENSURE_CHECKPOINT, name, Checkpoint=check_checkpoint_name(checkpoint))

    def restore_vm(self, name: str, checkpoint: str) -> None:
        self._run_vm_script(RESTORE_CHECKPOINT, name, Checkpoint=check_checkpoint_name(checkpoint))

    def remove_checkpoint(self, name: str, checkpoint: str) -> None:
        check_checkpoint_name(checkpoint)
        if checkpoint.lower() == CLEAN_CHECKPOINT:
            raise InvalidValue(f"the {CLEAN_CHECKPOINT} checkpoint is what reset restores; it is removed with the VM")
        self._run_vm_script(REMOVE_CHECKPOINT, name, Checkpoint=checkpoint)

    def delete_vm(self, name: str, *, vm_root: str) -> None:
        check_vm_name(name)
        check_windows_path(vm_root, what="VM root folder")
        window = min(DELETE_RETRY_S, self.conn.call_deadline_s / 2)
        tries = max(1, int(window // DELETE_RETRY_PAUSE_S))
        self.client.run_script(
            build_script(DELETE_VM, Name=name, Root=vm_root, Tag=NOTES_TAG, Tries=tries, Pause=DELETE_RETRY_PAUSE_S)
        )

    def vm_status(self, name: str) -> VmStatus:
        raw = self._run_vm_script(VM_STATUS, name)
        return VmStatus(
            name=_field(raw, "Name", str),
            vm_id=_field(raw, "VMId", str),
            state=_field(raw, "State", str),
            heartbeat=_heartbeat(_field(raw, "Heartbeat", str, default=None)),
            ip_addresses=[str(ip) for ip in _as_list(_field(raw, "IPAddresses", object, default=None))],
            uptime_s=_field(raw, "Uptime", int, default=0),
        )

    def checkpoint_names(self, name: str) -> list[str]:
        return [str(item) for item in _as_list(self._run_vm_script(CHECKPOINT_NAMES, name))]

    def list_tagged_vms(self) -> list[TaggedVm]:
        rows = self.client.run_script(build_script(LIST_TAGGED_VMS, Tag=NOTES_TAG))
        return [
            TaggedVm(
                name=_field(row, "Name", str),
                vm_id=_field(row, "VMId", str),
                state=_field(row, "State", str),
                lab_id=lab_id_from_notes(_field(row, "Notes", str)),
                notes=_field(row, "Notes", str),
            )
            for row in _as_list(rows)
        ]

    def grant_console(self, name: str, user: str) -> str:
        result = self._run_vm_script(GRANT_CONSOLE, name, User=check_account(user))
        if not isinstance(result, str):
            raise HostError("the host did not return the VM id after granting console access")
        return result

    def measure_vm(self, name: str) -> Usage:
        raw = self._run_vm_script(MEASURE_VM, name)
        return Usage(
            name=name,
            average_cpu_mhz=_field(raw, "AverageProcessorUsage", int, default=0),
            average_memory_mb=_field(raw, "AverageMemoryUsage", int, default=0),
            maximum_memory_mb=_field(raw, "MaximumMemoryUsage", int, default=0),
            minimum_memory_mb=_field(raw, "MinimumMemoryUsage", int, default=0),
            total_disk_allocation_mb=_field(raw, "TotalDiskAllocation", int, default=0),
        )

    def _run_vm_script(self, template: str, name: str, **values: Any) -> Any:
        check_vm_name(name)
        return self.client.run_script(build_script(template, Name=name, **values))


_REQUIRED = object()


def _field(raw: Any, key: str, kind: type, *, default: Any = _REQUIRED) -> Any:
    """``raw[key]`` converted to ``kind``; HostError if the host's answer lacks it."""
    value = raw.get(key) if isinstance(raw, dict) else None
    if value is None:
        if default is _REQUIRED:
            raise HostError(f"the host's answer lacks {key}")
        return default
    if kind is object:
        return value
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise HostError(f"the host's answer has an unreadable {key}: {value!r}")


def _heartbeat(status: str | None) -> str | None:
    """ "OK" for the operational status Ok; other statuses by their enum name (NoContact, ...)."""
    return "OK" if status is not None and status.lower() == "ok" else status


def _wrapped_array(value: Any) -> list[Any] | None:
    """The items of an array that Windows PowerShell 5.1 wrote as ``{"value": [...], "Count": n}``
    (an array inside an array, hyperv-real-host.md section 4, [S18]); None for anything else."""
    if isinstance(value, dict) and set(value) == {"value", "Count"} and isinstance(value["value"], list):
        return value["value"]
    return None


def _as_list(value: Any) -> list[Any]:
    """A JSON value that PowerShell may have unwrapped (one item), left out (none), or wrapped as
    5.1 does arrays inside arrays, as one flat list."""
    if value is None:
        return []
    wrapped = _wrapped_array(value)
    items = wrapped if wrapped is not None else value if isinstance(value, list) else [value]
    flat: list[Any] = []
    for item in items:
        inner = _wrapped_array(item)
        flat.extend(inner if inner is not None else [item])
    return flat


def _base_images_script(paths: list[str]) -> str:
    return build_script(BASE_IMAGES, Images=paths)


def _fits(paths: list[str]) -> bool:
    try:
        _base_images_script(paths)
    except CommandTooLong:
        return False
    return True


def _optional_bool(value: Any) -> bool | None:
    return None if value is None else bool(value)


def _host_facts(raw: Any) -> HostFacts:
    versions = _as_list(_field(raw, "Versions", object, default=None))
    return HostFacts(
        computer_name=_field(raw, "ComputerName", str, default=""),
        os_caption=_field(raw, "Caption", str, default=""),
        os_build=_field(raw, "Build", int, default=0),
        cpu_manufacturer=_field(raw, "Manufacturer", str, default=""),
        cpu_name=_field(raw, "CpuName", str, default=""),
        logical_processors=_field(raw, "Lp", int, default=0),
        memory_total_bytes=_field(raw, "Memory", int, default=0) or _field(raw, "TotalKB", int, default=0) * 1024,
        memory_free_bytes=_field(raw, "FreeKB", int, default=0) * 1024,
        hyperv_installed=bool(raw.get("HyperV")) if isinstance(raw, dict) else False,
        hypervisor_present=_optional_bool(_field(raw, "HypervisorPresent", object, default=None)),
        firmware_virtualization=_optional_bool(_field(raw, "FirmwareVirt", object, default=None)),
        slat=_optional_bool(_field(raw, "Slat", object, default=None)),
        vm_monitor_mode=_optional_bool(_field(raw, "VmMonitor", object, default=None)),
        supported_config_versions=tuple(_field(row, "Version", str) for row in versions),
        default_config_version=next(
            (_field(row, "Version", str) for row in versions if isinstance(row, dict) and row.get("IsDefault")), None
        ),
        vm_path=_field(raw, "VmPath", str, default=None),
        vhd_path=_field(raw, "VhdPath", str, default=None),
        disks=tuple(
            DiskSpace(
                drive=_field(row, "DeviceID", str),
                free_bytes=_field(row, "FreeSpace", int, default=0),
                size_bytes=_field(row, "Size", int, default=0),
            )
            for row in _as_list(_field(raw, "Disks", object, default=None))
        ),
        base_images=(),
        ui_culture=_field(raw, "UiCulture", str, default=None) or None,
    )
