"""The host's state: VMs, disks, folders, switches, NATs. Plain data, saved as JSON.

The same dictionary shape serves three purposes: the state file (``--state-file``), the
read-only dump for tests (``GET /_hvsim/state``) and reloading after a restart. Every change
happens under ``Host.lock``; one lock for the whole host is simple and fast enough, because
cmdlet latency is slept outside it.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from ..powershell.operators import wildcard_match
from . import facts


def normalize_path(path: str) -> str:
    """Windows path as stored: backslashes, no trailing separator (except the drive root)."""
    text = path.replace("/", "\\").strip()
    while "\\\\" in text[1:]:
        text = text[0] + text[1:].replace("\\\\", "\\")
    if len(text) > 3 and text.endswith("\\"):
        text = text.rstrip("\\")
    if len(text) == 2 and text[1] == ":":
        text += "\\"
    return text


def path_key(path: str) -> str:
    """Windows paths are case-insensitive."""
    return normalize_path(path).lower()


def parent_path(path: str) -> str:
    normalized = normalize_path(path)
    head = normalized.rsplit("\\", 1)[0]
    return head + "\\" if len(head) == 2 else head


@dataclass
class HostConfig:
    """The machine itself, from the command line (not persisted: a restart may change hardware)."""

    computer_name: str = "HV-SIM01"
    cpus: int = 64
    memory_mb: int = 262144
    storage_gb: int = 4096
    os_build: int = 20348
    cpu_vendor: str = "intel"
    firmware_virtualization: bool = True
    slat: bool = True
    hyperv_role: bool = True
    # What a host doctor must tell apart (docs/hyperv-real-host.md, section 3): the role without
    # its PowerShell module (-IncludeManagementTools left out), a host that is itself a guest of
    # another hypervisor (HypervisorPresent is true, Hyper-V's own hypervisor and vmms do not
    # run), the VMMS service stopped, no DEP, a UAC-filtered token, the host's display language,
    # a data drive D: of this size (0: none), and the address WinRM listens on, carried by the
    # physical NIC "Ethernet".
    hyperv_module: bool = True
    foreign_hypervisor: bool = False
    vmms: bool = True
    dep: bool = True
    elevated: bool = True
    # The UI culture of the host's PowerShell: "en-US", or "de-DE" for German messages
    # (ids and categories stay the same; hyperv-real-host.md section 5 item 8, [S22]).
    language: str = "en-US"
    data_disk_gb: int = 0
    management_address: str = ""
    base_images: tuple[str, ...] = tuple(facts.DEFAULT_BASE_IMAGES)
    missing_base_images: tuple[str, ...] = ()
    boot_seconds: float = 1.0  # from Start-VM until the guest's heartbeat answers
    address_seconds: float = 1.5  # from Start-VM until the guest has its IP addresses
    # What the host's PowerShell profile prints when powershell.exe runs without -NoProfile
    # (an operator's profile.ps1; hyperv-real-host.md section 5 item 6, [S23]).
    profile_output: str = ""
    # Remove-VM of a VM with checkpoints returns at once, and the host then merges the
    # checkpoint files into the VM's disks, holding them open meanwhile (hyperv-real-host.md,
    # section 4, "Remove-VM of a VM with checkpoints"; its length on a real host is UNVERIFIED).
    merge_seconds: float = 0.0
    # From a graceful Stop-VM until the guest OS is down: the VM is Stopping meanwhile, also when
    # the caller gave up waiting and terminated Stop-VM (the shutdown job runs on in VMMS).
    shutdown_seconds: float = 0.0

    @property
    def memory_bytes(self) -> int:
        return self.memory_mb * facts.MIB

    @property
    def hypervisor_running(self) -> bool:
        """Hyper-V's own hypervisor."""
        return self.hyperv_role and self.firmware_virtualization and self.slat and not self.foreign_hypervisor

    @property
    def hypervisor_present(self) -> bool:
        """Win32_ComputerSystem.HypervisorPresent: true under any hypervisor [S25]."""
        return self.hypervisor_running or self.foreign_hypervisor

    @property
    def vmms_running(self) -> bool:
        # Whether vmms keeps running when Hyper-V's hypervisor does not start is UNVERIFIED;
        # hvsim stops it for a foreign hypervisor so the doctor's two signals agree.
        return self.hyperv_role and self.vmms and not self.foreign_hypervisor


@dataclass
class VirtualDisk:
    path: str
    vhd_type: str  # Fixed | Dynamic | Differencing
    size_bytes: int
    file_size: int
    parent_path: str | None = None
    disk_identifier: str = field(default_factory=lambda: str(uuid.uuid4()).upper())


@dataclass
class PortAcl:
    """Add-VMNetworkAdapterAcl: allow, deny or meter traffic to or from an address."""

    action: str  # Allow | Deny | Meter
    direction: str  # Inbound | Outbound ("Both" is stored as one of each)
    remote_address: str | None = None  # an IP prefix, a MAC, or ANY
    local_address: str | None = None


@dataclass
class ExtendedPortAcl:
    """Add-VMNetworkAdapterExtendedAcl: a weighted rule with ports and protocol."""

    action: str  # Allow | Deny
    direction: str  # Inbound | Outbound
    weight: int
    remote_ip_address: str | None = None
    local_ip_address: str | None = None
    remote_port: str | None = None
    local_port: str | None = None
    protocol: str | None = None
    stateful: bool = False


@dataclass
class NetworkAdapter:
    id: str
    name: str
    mac_address: str
    switch_id: str | None = None
    mac_address_spoofing: bool = False
    dhcp_guard: bool = False
    router_guard: bool = False
    access_vlan_id: int | None = None  # None: untagged
    address_index: int = 0  # which address of its switch's plan the guest gets
    acls: list[PortAcl] = field(default_factory=list)
    extended_acls: list[ExtendedPortAcl] = field(default_factory=list)


@dataclass
class Checkpoint:
    id: str
    name: str
    created_at: float
    vm_state: str  # the VM's state when taken
    settings: dict[str, Any]  # the VM's configuration when taken
    parent_id: str | None = None


@dataclass
class VirtualMachine:
    id: str
    name: str
    generation: int
    version: str
    path: str
    memory_startup: int
    processor_count: int = 1
    dynamic_memory: bool = False
    memory_minimum: int = 512 * facts.MIB
    memory_maximum: int = 1024 * 1024 * facts.MIB
    expose_virtualization_extensions: bool = False
    notes: str = ""
    automatic_checkpoints: bool = True
    checkpoint_type: str = "Production"
    state: str = "Off"
    started_at: float | None = None
    hard_drives: list[str] = field(default_factory=list)
    adapters: list[NetworkAdapter] = field(default_factory=list)
    checkpoints: list[Checkpoint] = field(default_factory=list)
    current_checkpoint_id: str | None = None
    resource_metering: bool = False
    metering_since: float | None = None
    connect_access: list[str] = field(default_factory=list)
    created_at: float = field(default_factory=time.time)
    shutdown_ends_at: float | None = None  # time.time() when a running guest shutdown ends
    #: Generation 2 firmware (Get-/Set-VMFirmware); Hyper-V's default is Secure Boot on with
    #: the MicrosoftWindows template (facts.py, "Generation 2 firmware").
    secure_boot: bool = True
    secure_boot_template: str = facts.DEFAULT_SECURE_BOOT_TEMPLATE

    CONFIGURATION_FIELDS = (
        "memory_startup",
        "processor_count",
        "dynamic_memory",
        "memory_minimum",
        "memory_maximum",
        "expose_virtualization_extensions",
        "notes",
        "automatic_checkpoints",
        "checkpoint_type",
    )

    def configuration(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.CONFIGURATION_FIELDS}

    def uptime(self, now: float) -> float:
        return max(0.0, now - self.started_at) if self.state == "Running" and self.started_at else 0.0


@dataclass
class VirtualSwitch:
    id: str
    name: str
    switch_type: str  # Private | Internal | External
    net_adapter_name: str | None = None
    allow_management_os: bool = False
    plan_index: int = 0  # picks this switch's guest address plan
    next_address: int = 0


@dataclass
class NetNat:
    name: str
    internal_prefix: str


@dataclass
class HostIPAddress:
    interface_alias: str
    ip_address: str
    prefix_length: int


@dataclass
class HostState:
    vms: list[VirtualMachine] = field(default_factory=list)
    disks: list[VirtualDisk] = field(default_factory=list)
    directories: list[str] = field(default_factory=list)
    switches: list[VirtualSwitch] = field(default_factory=list)
    nats: list[NetNat] = field(default_factory=list)
    host_ip_addresses: list[HostIPAddress] = field(default_factory=list)
    next_mac: int = 0
    next_switch_plan: int = 0


def attach_to_switch(adapter: NetworkAdapter, switch: VirtualSwitch) -> None:
    """Connect an adapter; its guest gets the switch's next address (see Host.guest_addresses)."""
    adapter.switch_id = switch.id
    switch.next_address += 1
    adapter.address_index = switch.next_address


def _build(cls, data: dict[str, Any]):
    names = {f.name for f in fields(cls)}
    return cls(**{key: value for key, value in data.items() if key in names})


def _adapter_from_dict(data: dict[str, Any]) -> NetworkAdapter:
    adapter = _build(NetworkAdapter, data)
    adapter.acls = [_build(PortAcl, acl) for acl in data.get("acls", [])]
    adapter.extended_acls = [_build(ExtendedPortAcl, acl) for acl in data.get("extended_acls", [])]
    return adapter


def state_from_dict(data: dict[str, Any]) -> HostState:
    vms = []
    for raw in data.get("vms", []):
        vm = _build(VirtualMachine, raw)
        vm.adapters = [_adapter_from_dict(adapter) for adapter in raw.get("adapters", [])]
        vm.checkpoints = [_build(Checkpoint, checkpoint) for checkpoint in raw.get("checkpoints", [])]
        vms.append(vm)
    return HostState(
        vms=vms,
        disks=[_build(VirtualDisk, disk) for disk in data.get("disks", [])],
        directories=list(data.get("directories", [])),
        switches=[_build(VirtualSwitch, switch) for switch in data.get("switches", [])],
        nats=[_build(NetNat, nat) for nat in data.get("nats", [])],
        host_ip_addresses=[_build(HostIPAddress, address) for address in data.get("host_ip_addresses", [])],
        next_mac=data.get("next_mac", 0),
        next_switch_plan=data.get("next_switch_plan", 0),
    )


class Host:
    """The simulated machine: configuration, state, the lock around both, and derived facts."""

    def __init__(self, config: HostConfig, state: HostState | None = None):
        self.config = config
        self.lock = threading.RLock()
        self.state = state or self.fresh_state(config)
        self.dirty = False
        # Disk path key -> time.monotonic() until which a checkpoint merge holds it open. Not
        # persisted: a restarted host has finished (or abandoned) its merges.
        self.merging_until: dict[str, float] = {}
        self.token_is_admin = config.elevated  # read by [WindowsIdentity]::GetCurrent()
        self._disk_index: dict[str, VirtualDisk] = {}
        self._directory_index: set[str] = set()
        self.reindex()

    @staticmethod
    def fresh_state(config: HostConfig) -> HostState:
        state = HostState(
            directories=[
                "C:\\",
                r"C:\ProgramData",
                r"C:\ProgramData\Microsoft",
                r"C:\ProgramData\Microsoft\Windows",
                facts.DEFAULT_VM_PATH,
                r"C:\Users",
                r"C:\Users\Public",
                r"C:\Users\Public\Documents",
                r"C:\Users\Public\Documents\Hyper-V",
                facts.DEFAULT_VHD_PATH,
            ]
        )
        missing = {path_key(path) for path in config.missing_base_images}
        for image in config.base_images:
            directory = parent_path(image)
            while directory and directory not in state.directories and len(directory) > 3:
                state.directories.append(directory)
                directory = parent_path(directory)
            if path_key(image) in missing:
                continue
            size, file_size = facts.DEFAULT_BASE_IMAGES.get(image, facts.OTHER_BASE_IMAGE_SIZE)
            state.disks.append(VirtualDisk(normalize_path(image), "Dynamic", size, file_size))
        return state

    def settle(self, now: float) -> None:
        """Finish what the host did in the background: guest shutdowns whose time has come."""
        for vm in self.state.vms:
            if vm.state == "Stopping" and (vm.shutdown_ends_at or 0.0) <= now:
                vm.state, vm.started_at, vm.shutdown_ends_at = "Off", None, None
                self.dirty = True

    def reindex(self) -> None:
        self._disk_index = {path_key(disk.path): disk for disk in self.state.disks}
        self._directory_index = {path_key(directory) for directory in self.state.directories}

    # --- persistence --------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The state dump: what tests read and what the state file holds."""
        with self.lock:
            now = time.time()
            self.settle(now)
            data = asdict(self.state)
            for raw, vm in zip(data["vms"], self.state.vms, strict=True):
                raw["uptime_seconds"] = round(vm.uptime(now), 3)
                raw["memory_assigned"] = vm.memory_startup if vm.state == "Running" else 0
                for adapter_raw, adapter in zip(raw["adapters"], vm.adapters, strict=True):
                    adapter_raw["switch_name"] = self.switch_name(adapter.switch_id)
                    adapter_raw["ip_addresses"] = self.guest_addresses(vm, adapter, now)
            data["host"] = {
                **asdict(self.config),
                "memory_available_bytes": self.available_memory(),
                "storage_free_bytes": self.free_storage(),
            }
            return data

    def save(self, path: str) -> None:
        """Write atomically: a temporary file in the same folder, then os.replace.

        The snapshot and the clearing of ``dirty`` happen together under the lock, so a change made
        while the file is being written marks the host dirty again and is saved next time. Callers
        serialize saves (Simulator.save), so an older snapshot never replaces a newer one.
        """
        with self.lock:
            data = self.to_dict()
            self.dirty = False
        directory = os.path.dirname(os.path.abspath(path))
        handle, temporary = tempfile.mkstemp(prefix=".hvsim-state-", dir=directory)
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                json.dump(data, stream, separators=(",", ":"))
                stream.flush()
                os.fsync(stream.fileno())
            os.replace(temporary, path)
        except BaseException:
            if os.path.exists(temporary):
                os.unlink(temporary)
            with self.lock:
                self.dirty = True
            raise

    @classmethod
    def load(cls, config: HostConfig, path: str) -> Host:
        if not os.path.exists(path):
            return cls(config)
        with open(path, encoding="utf-8") as stream:
            return cls(config, state_from_dict(json.load(stream)))

    # --- lookups ------------------------------------------------------------------------------
    def disk(self, path: str) -> VirtualDisk | None:
        return self._disk_index.get(path_key(path))

    def add_disk(self, disk: VirtualDisk) -> None:
        self.state.disks.append(disk)
        self._disk_index[path_key(disk.path)] = disk

    def remove_disk(self, disk: VirtualDisk) -> None:
        self.state.disks.remove(disk)
        self._disk_index.pop(path_key(disk.path), None)

    def is_directory(self, path: str) -> bool:
        return path_key(path) in self._directory_index

    def add_directory(self, path: str) -> None:
        """Create a folder and any missing parents (like New-Item -ItemType Directory -Force)."""
        normalized = normalize_path(path)
        chain = []
        while normalized and not self.is_directory(normalized) and len(normalized) >= 3:
            chain.append(normalized)
            if len(normalized) == 3:
                break
            normalized = parent_path(normalized)
        for directory in reversed(chain):
            self.state.directories.append(directory)
            self._directory_index.add(path_key(directory))

    def remove_tree(self, path: str) -> None:
        prefix = path_key(path) + "\\"
        key = path_key(path)
        self.state.directories = [
            d for d in self.state.directories if path_key(d) != key and not path_key(d).startswith(prefix)
        ]
        for disk in [d for d in self.state.disks if path_key(d.path).startswith(prefix)]:
            self.remove_disk(disk)
        self.reindex()

    def children(self, path: str) -> list[str]:
        prefix = path_key(path).rstrip("\\") + "\\"
        entries = [d for d in self.state.directories if path_key(d).startswith(prefix) and path_key(d) != prefix[:-1]]
        entries += [d.path for d in self.state.disks if path_key(d.path).startswith(prefix)]
        return entries

    def vms_named(self, name: str) -> list[VirtualMachine]:
        return [vm for vm in self.state.vms if wildcard_match(vm.name, name)]

    def vm_by_id(self, vm_id: str) -> VirtualMachine | None:
        return next((vm for vm in self.state.vms if vm.id == vm_id), None)

    def switch_by_id(self, switch_id: str | None) -> VirtualSwitch | None:
        return next((s for s in self.state.switches if s.id == switch_id), None)

    def switch_name(self, switch_id: str | None) -> str | None:
        switch = self.switch_by_id(switch_id)
        return switch.name if switch else None

    def disk_owner(self, path: str) -> VirtualMachine | None:
        key = path_key(path)
        return next((vm for vm in self.state.vms if any(path_key(p) == key for p in vm.hard_drives)), None)

    def disk_in_use(self, path: str) -> bool:
        """Open by a VM that is not Off: attached to it, or a parent of a disk attached to it
        (Windows holds a differencing disk's whole parent chain open while the VM runs); or
        held by the checkpoint merge that follows Remove-VM."""
        key = path_key(path)
        if self.merging_until.get(key, 0.0) > time.monotonic():
            return True
        for vm in self.state.vms:
            if vm.state == "Off":
                continue
            for attached in vm.hard_drives:
                disk = self.disk(attached)
                chain = {path_key(attached)}
                while disk is not None and disk.parent_path:
                    chain.add(path_key(disk.parent_path))
                    disk = self.disk(disk.parent_path)
                if key in chain:
                    return True
        return False

    # --- capacity -----------------------------------------------------------------------------
    def used_memory(self) -> int:
        return sum(
            vm.memory_startup for vm in self.state.vms if vm.state in {"Running", "Paused", "Starting", "Stopping"}
        )

    def available_memory(self) -> int:
        return max(0, self.config.memory_bytes - facts.HOST_RESERVED_MEMORY - self.used_memory())

    def used_storage(self) -> int:
        return facts.OS_DISK_USAGE + sum(disk.file_size for disk in self.state.disks)

    def free_storage(self) -> int:
        return max(0, self.config.storage_gb * facts.GIB - self.used_storage())

    # --- guests -------------------------------------------------------------------------------
    def new_mac(self) -> str:
        """The next address of Hyper-V's default dynamic MAC range (00-15-5D-xx-xx-xx)."""
        self.state.next_mac += 1
        return f"00155D{self.state.next_mac & 0xFFFFFF:06X}"

    def heartbeat_ok(self, vm: VirtualMachine, now: float) -> bool:
        return vm.state == "Running" and vm.uptime(now) >= self.config.boot_seconds

    def guest_addresses(self, vm: VirtualMachine, adapter: NetworkAdapter, now: float) -> list[str]:
        """The guest's addresses: none until it has booted, then one from its switch's plan.

        The plan: on an External switch, the switch's own 10.x network (the site's DHCP); on a
        Private or Internal switch, a link-local 169.254.x.y address, as a guest with no DHCP
        server gives itself. NAT is no exception: "WinNAT by itself does not allocate and assign
        IP addresses to an endpoint" (hyperv-real-host.md [S5]).
        """
        switch = self.switch_by_id(adapter.switch_id)
        if switch is None or vm.state != "Running" or vm.uptime(now) < self.config.address_seconds:
            return []
        host_number = adapter.address_index
        ipv4 = None
        if switch.switch_type == "External":
            ipv4 = f"10.{switch.plan_index % 250}.{host_number // 250}.{host_number % 250 + 10}"
        if ipv4 is None:
            ipv4 = f"169.254.{switch.plan_index % 250 + 1}.{host_number % 250 + 10}"
        mac = int(adapter.mac_address, 16)
        ipv6 = f"fe80::215:5dff:fe{mac >> 16 & 0xFF:02x}:{mac & 0xFFFF:x}"
        return [ipv4, ipv6]
