"""The shape every hypervisor driver has, and the values it speaks.

``HyperVDriver`` (WinRM to a real or simulated Hyper-V host) and ``FakeDriver`` (in process,
for unit tests of services) both satisfy ``HypervisorDriver``. Every mutating method is an
idempotent "ensure": it reads first and does nothing if the thing is already so. Every method
raises only ``workers.hyperv.errors.HypervisorError`` subclasses.

Specs validate their values when built (InvalidValue), so a spec that exists is safe to send.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable
from uuid import UUID

from workers.hyperv.errors import InvalidValue
from workers.hyperv.names import (
    SECURE_BOOT_WINDOWS,
    check_adapter_name,
    check_base_image_path,
    check_config_version,
    check_generation_disk,
    check_memory_mb,
    check_secure_boot,
    check_switch_name,
    check_vm_name,
    check_windows_path,
)
from workers.hyperv.powershell import validate_name, validate_nat_prefix, validate_vlan_id

Transport = Literal["ntlm", "kerberos", "credssp", "ssl", "plaintext"]
SwitchMode = Literal["private", "nat", "vlan"]

#: The checkpoint ``ensure_vm`` takes last and ``reset_vm`` restores.
CLEAN_CHECKPOINT = "nestlab-clean"
#: Notes of every VM Nestlab made start with this; nothing else is ever touched.
NOTES_TAG = "nestlab:"
#: Windows MAX_PATH, which the per-lab disk path must stay under.
WINDOWS_MAX_PATH = 260
_HOSTNAME_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?")


def lab_notes(lab_id: UUID, tenant_slug: str) -> str:
    """The Notes text that tags a lab VM: ``nestlab:<lab uuid> tenant:<slug>``."""
    return NOTES_TAG + str(lab_id) + " tenant:" + tenant_slug


def lab_id_from_notes(notes: str) -> UUID | None:
    """The lab UUID in ``nestlab:<uuid> tenant:<slug>`` Notes, or None if unreadable."""
    if not notes.startswith(NOTES_TAG):
        return None
    try:
        return UUID(notes[len(NOTES_TAG) :].split()[0])
    except (ValueError, IndexError):
        return None


@dataclass(frozen=True)
class ConnectionSpec:
    """How to reach one host's WinRM service.

    ``transport``: ntlm, kerberos or credssp (HTTP with message encryption, or HTTPS), ssl (Basic
    over HTTPS), or plaintext (Basic over HTTP, only with ``allow_plaintext``, for hvsim).
    ``call_deadline_s`` bounds each call's wall-clock time, whatever the host does.
    """

    host_name: str
    endpoint: str
    port: int
    transport: Transport
    username: str
    password: str = field(repr=False)
    use_tls: bool
    verify_tls: bool = True
    ca_bundle: str | None = None
    allow_plaintext: bool = False
    call_deadline_s: float = 120

    def __post_init__(self) -> None:
        if not isinstance(self.endpoint, str) or not _HOSTNAME_RE.fullmatch(self.endpoint):
            raise InvalidValue(f"endpoint must be a host name or IPv4 address; got {self.endpoint!r}")
        if self.transport not in ("ntlm", "kerberos", "credssp", "ssl", "plaintext"):
            raise InvalidValue(f"unknown WinRM transport {self.transport!r}")
        if self.transport == "plaintext" and (self.use_tls or not self.allow_plaintext):
            raise InvalidValue("transport 'plaintext' (Basic over HTTP) needs use_tls=False and allow_plaintext=True")
        if self.transport == "ssl" and not self.use_tls:
            raise InvalidValue("transport 'ssl' is Basic over HTTPS and needs use_tls=True")
        if not 1 <= self.port <= 65535:
            raise InvalidValue(f"port must be 1..65535; got {self.port!r}")
        if not self.call_deadline_s > 0:
            raise InvalidValue("call_deadline_s must be positive")

    @property
    def url(self) -> str:
        scheme = "https" if self.use_tls else "http"
        return scheme + "://" + self.endpoint + ":" + str(self.port) + "/wsman"

    def __repr__(self) -> str:
        return (
            f"ConnectionSpec(host_name={self.host_name!r}, url={self.url!r}, transport={self.transport!r}, "
            f"username={self.username!r}, password='***', verify_tls={self.verify_tls!r})"
        )

    __str__ = __repr__


#: The one NetNat Nestlab keeps on a host (Windows supports one NAT network per host).
HOST_NAT_NAME = "nestlab-nat"


@dataclass(frozen=True)
class SwitchSpec:
    """A lab network. ``private``: no way out. ``nat``: an Internal switch whose host interface
    is the gateway (first address) of ``nat_prefix``, a segment inside ``nat_pool``, the prefix of
    the host's one NetNat (HOST_NAT_NAME). ``vlan``: an External switch on ``external_adapter``;
    labs get access VLANs."""

    name: str
    mode: SwitchMode
    nat_prefix: str | None = None
    external_adapter: str | None = None
    nat_pool: str | None = None

    def __post_init__(self) -> None:
        check_switch_name(self.name)
        if self.mode not in ("private", "nat", "vlan"):
            raise InvalidValue(f"switch mode must be private, nat or vlan; got {self.mode!r}")
        if (self.mode == "nat") != (self.nat_prefix is not None):
            raise InvalidValue("nat_prefix is required for mode 'nat' and only for it")
        if (self.mode == "vlan") != (self.external_adapter is not None):
            raise InvalidValue("external_adapter is required for mode 'vlan' and only for it")
        if (self.mode == "nat") != (self.nat_pool is not None):
            raise InvalidValue("nat_pool is required for mode 'nat' and only for it")
        if self.nat_prefix is not None:
            segment, pool = validate_nat_prefix(self.nat_prefix), validate_nat_prefix(self.nat_pool)
            if not segment.subnet_of(pool):
                raise InvalidValue(f"NAT prefix {self.nat_prefix} is not inside the NAT pool {self.nat_pool}")
        if self.external_adapter is not None:
            check_adapter_name(self.external_adapter)

    @property
    def nat_network(self) -> ipaddress.IPv4Network | None:
        return validate_nat_prefix(self.nat_prefix) if self.nat_prefix is not None else None


@dataclass(frozen=True)
class VmSpec:
    """One lab VM: a differencing disk over ``base_image_path`` in ``vm_root\\name\\``, static
    memory, exposed virtualization extensions, guarded adapter on ``switch_name``."""

    name: str
    lab_id: UUID
    tenant_slug: str
    vcpus: int
    memory_mb: int
    disk_gb: int
    base_image_path: str
    vm_root: str
    generation: int
    config_version: str
    switch_name: str
    vlan_id: int | None = None
    #: Generation 2 only: a Secure Boot template name, or "Off" (workers.hyperv.names).
    secure_boot: str = SECURE_BOOT_WINDOWS
    #: NAT mode: the lab's segment and the host NetNat's pool. The adapter gets port ACLs that
    #: deny the pool and allow the segment, so a lab reaches no other tenant's segment.
    nat_segment: str | None = None
    nat_pool: str | None = None

    def __post_init__(self) -> None:
        check_vm_name(self.name)
        # Only the Notes tag carries the slug; tenants made before the slug rule (with '_', say)
        # keep working, so this checks the plain-name rule, not check_tenant_slug.
        validate_name(self.tenant_slug, what="tenant slug")
        check_switch_name(self.switch_name)
        if not isinstance(self.lab_id, UUID):
            raise InvalidValue("lab_id must be a UUID")
        check_base_image_path(self.base_image_path)
        check_windows_path(self.vm_root, what="VM root folder")
        if len(self.disk_path) >= WINDOWS_MAX_PATH:
            raise InvalidValue(f"the lab disk path would be {len(self.disk_path)} characters; Windows allows 259")
        for what, value, low, high in (
            ("vcpus", self.vcpus, 1, 240),
            ("memory_mb", self.memory_mb, 512, 12 * 1024 * 1024),
            ("disk_gb", self.disk_gb, 1, 64 * 1024),
            ("generation", self.generation, 1, 2),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise InvalidValue(f"{what} must be an integer in {low}..{high}; got {value!r}")
        check_memory_mb(self.memory_mb)
        check_config_version(self.config_version)
        check_secure_boot(self.secure_boot)
        check_generation_disk(self.generation, self.base_image_path)
        if (self.nat_segment is None) != (self.nat_pool is None):
            raise InvalidValue("nat_segment and nat_pool go together")
        if self.nat_segment is not None and not validate_nat_prefix(self.nat_segment).subnet_of(
            validate_nat_prefix(self.nat_pool)
        ):
            raise InvalidValue(f"NAT segment {self.nat_segment} is not inside the NAT pool {self.nat_pool}")
        if self.vlan_id is not None:
            validate_vlan_id(self.vlan_id)

    @property
    def folder(self) -> str:
        return self.vm_root + "\\" + self.name

    @property
    def disk_path(self) -> str:
        return self.folder + "\\" + self.name + ".vhdx"

    @property
    def notes(self) -> str:
        return lab_notes(self.lab_id, self.tenant_slug)


@dataclass(frozen=True)
class VmStatus:
    name: str
    vm_id: str
    state: str
    heartbeat: str | None
    ip_addresses: list[str]
    uptime_s: int


@dataclass(frozen=True)
class TaggedVm:
    """A VM whose Notes carry the Nestlab tag. ``lab_id`` is None if the tag is unreadable."""

    name: str
    vm_id: str
    state: str
    lab_id: UUID | None
    notes: str


@dataclass(frozen=True)
class DiskSpace:
    drive: str
    free_bytes: int
    size_bytes: int


@dataclass(frozen=True)
class BaseImage:
    path: str
    present: bool
    #: Why the path could not be checked (the driver refused it), or "" when it was.
    problem: str = ""


@dataclass(frozen=True)
class HostFacts:
    """What the host doctor and placement need to know about a host. ``None`` means the host
    did not say."""

    computer_name: str
    os_caption: str
    os_build: int
    cpu_manufacturer: str
    cpu_name: str
    logical_processors: int
    memory_total_bytes: int
    memory_free_bytes: int
    hyperv_installed: bool
    hypervisor_present: bool | None
    firmware_virtualization: bool | None
    slat: bool | None
    vm_monitor_mode: bool | None
    supported_config_versions: tuple[str, ...]
    default_config_version: str | None
    vm_path: str | None
    vhd_path: str | None
    disks: tuple[DiskSpace, ...]
    base_images: tuple[BaseImage, ...]
    #: The host PowerShell's UI culture ($PSUICulture, "en-US"); None when the host did not say.
    ui_culture: str | None = None

    @property
    def cpu_vendor(self) -> Literal["intel", "amd", "other"]:
        manufacturer = self.cpu_manufacturer.lower()
        if "intel" in manufacturer:
            return "intel"
        if "amd" in manufacturer:
            return "amd"
        return "other"

    def free_bytes_on(self, path: str | None) -> int | None:
        """Free space of the fixed disk holding ``path`` (for example the VHD folder)."""
        if not path:
            return None
        drive = path[:2].upper()
        return next((disk.free_bytes for disk in self.disks if disk.drive.upper() == drive), None)


@dataclass(frozen=True)
class HostReadiness:
    """What the host doctor asks beyond ``HostFacts``: the things that pass a glance at the
    hardware and then fail every build (docs/hyperv-real-host.md, section 3). ``None`` means the
    host did not say."""

    #: The Hyper-V PowerShell module answers (its cmdlets exist).
    hyperv_module: bool | None
    #: Status of the Virtual Machine Management service ("Running", "Stopped"), None if absent.
    vmms_status: str | None
    #: Why Get-VMHost failed, "" if it answered.
    vmhost_error: str
    #: Win32_OperatingSystem.DataExecutionPrevention_Available.
    dep_available: bool | None
    #: The WinRM session holds a full administrator token (not filtered by UAC).
    elevated: bool | None
    #: Names of the NAT networks (Get-NetNat) on the host.
    netnats: tuple[str, ...] | None
    #: Whether the external adapter asked about exists; None if none was asked about.
    adapter_present: bool | None = None
    #: The IP addresses that adapter carries.
    adapter_addresses: tuple[str, ...] = ()


@dataclass(frozen=True)
class Usage:
    """Measure-VM over the metering period: CPU in MHz, memory in MB, disk in MB."""

    name: str
    average_cpu_mhz: int
    average_memory_mb: int
    maximum_memory_mb: int
    minimum_memory_mb: int
    total_disk_allocation_mb: int


@runtime_checkable
class HypervisorDriver(Protocol):
    """Operations Nestlab needs from a hypervisor host. Every method is idempotent, and raises
    only HypervisorError subclasses. Names are validated first (InvalidValue)."""

    def session(self) -> AbstractContextManager[None]:
        """Keep one connection (one WinRM shell) open for the operations inside the block, so a
        sequence such as a whole lab build costs one shell instead of one per operation."""

    def host_facts(self, base_images: list[str]) -> HostFacts:
        """Facts and capacity of the host, and whether each of ``base_images`` is present."""

    def host_readiness(self, *, external_adapter: str | None = None) -> HostReadiness:
        """The doctor's questions beyond the facts: module, vmms, Get-VMHost, DEP, elevation,
        NAT networks, and the addresses ``external_adapter`` carries."""

    def base_images_present(self, paths: list[str]) -> list[BaseImage]:
        """Whether each of ``paths`` exists on the host, in order. Never raises for one path:
        a path the driver refuses comes back with ``problem`` saying why. As many scripts as
        it takes to keep each under the command-line limit."""

    def ensure_switch(self, spec: SwitchSpec) -> None:
        """Make the switch (and its NAT) exist as specified. InvalidState if a switch of that
        name exists with another type."""

    def remove_switch(self, name: str, *, force: bool = False) -> None:
        """Remove the switch and its NAT; absent is success. InvalidState if VM adapters are
        still connected, unless ``force`` (then they are disconnected first)."""

    def ensure_vm(self, spec: VmSpec, *, on_step: Callable[[str], None] | None = None) -> str:
        """Build the lab VM, resuming wherever an earlier run stopped, and return its VMId.
        ``on_step(step)`` is called for each step this call performed (disk, vm, notes, memory,
        processor, network, vlan, checkpoint), also when a later step fails. HostError if two
        VMs have the name; InvalidState if a VM of that name is not this lab's; InvalidValue if
        the switch is a shared (External) one and the spec has no VLAN, because lab adapters
        spoof MAC addresses and must stay inside the tenant's segment."""

    def start_vm(self, name: str) -> None:
        """Running afterwards. NotFound, InsufficientResources."""

    def stop_vm(self, name: str, *, graceful_timeout_s: int = 60) -> None:
        """Off afterwards: a guest shutdown, then power off if it takes longer."""

    def reset_vm(self, name: str) -> None:
        """Restore the clean checkpoint; the VM ends in the power state it had (running or off)."""

    def checkpoint_vm(self, name: str, checkpoint: str) -> None:
        """A Standard checkpoint named ``checkpoint`` exists afterwards (not retaken)."""

    def restore_vm(self, name: str, checkpoint: str) -> None:
        """Apply ``checkpoint`` (VM powered off first; restarted if it was running). NotFound."""

    def remove_checkpoint(self, name: str, checkpoint: str) -> None:
        """The checkpoint is gone afterwards; absent is success."""

    def delete_vm(self, name: str, *, vm_root: str) -> None:
        """The VM, its disk and its folder are gone afterwards; absent is success. InvalidState
        if a VM of that name is not tagged by Nestlab. Removing the disk waits (bounded) while the
        checkpoint merge that follows Remove-VM holds it; FileInUse (transient) if it still does."""

    def vm_status(self, name: str) -> VmStatus:
        """State, heartbeat, IP addresses and uptime. NotFound."""

    def checkpoint_names(self, name: str) -> list[str]:
        """The names of the VM's checkpoints (read-only). NotFound."""

    def list_tagged_vms(self) -> list[TaggedVm]:
        """Every VM whose Notes start with the Nestlab tag; never any other."""

    def grant_console(self, name: str, user: str) -> str:
        """Let ``user`` open the VM console through VMConnect; returns the VMId to connect to."""

    def measure_vm(self, name: str) -> Usage:
        """Turn resource metering on (if off) and return Measure-VM's figures."""
