"""``FakeDriver``: an in-process Hyper-V host for unit tests of services.

It keeps VMs, disks, switches, NATs and checkpoints in memory, has capacity (it refuses to start
a VM it has no memory for), validates like the real driver, raises the same errors, and is
idempotent in the same way. It also allows what a real host allows and Nestlab must survive:
duplicate VM names and untagged VMs (``add_foreign_vm``).

Fault hook: ``inject_fault(point, times=N, error=...)`` makes the next N arrivals at ``point``
raise ``error`` (default: a transient HostUnreachable) before doing anything there. A point is an
operation name (``"start_vm"``) or one ``ensure_vm`` step (``"ensure_vm.processor"``, see
``ENSURE_VM_STEPS``). Steps completed before the fault stay done, as on a real host, so a second
``ensure_vm`` resumes.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field, replace

from workers.hyperv.errors import (
    HostError,
    HostUnreachable,
    HypervisorError,
    InsufficientResources,
    InvalidState,
    InvalidValue,
    NotFound,
)
from workers.hyperv.interface import (
    CLEAN_CHECKPOINT,
    HOST_NAT_NAME,
    NOTES_TAG,
    BaseImage,
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
    check_account,
    check_base_image_path,
    check_checkpoint_name,
    check_switch_name,
    check_vm_name,
    check_windows_path,
)

#: The steps of ``ensure_vm`` in order, as reported to ``on_step`` (the real driver's names).
ENSURE_VM_STEPS = ("disk", "vm", "notes", "memory", "processor", "network", "vlan", "checkpoint")
_SWITCH_TYPES = {"private": "Private", "nat": "Internal", "vlan": "External"}
GIB = 1024**3
MIB = 1024**2
#: Memory the fake host keeps for its own OS; VMs only get the rest.
HOST_RESERVED_BYTES = 4 * GIB


@dataclass
class FakeVm:
    name: str
    vm_id: str
    notes: str = ""
    state: str = "Off"
    memory_mb: int = 512
    dynamic_memory: bool = True
    vcpus: int = 1
    expose_virtualization: bool = False
    switch_name: str | None = None
    guards_on: bool = False
    vlan_id: int | None = None
    automatic_checkpoints: bool = True
    checkpoint_type: str = "Production"
    checkpoints: dict[str, str] = field(default_factory=dict)
    console_users: set[str] = field(default_factory=set)
    metering: bool = False
    disk_path: str | None = None
    acls: list[tuple[str, str]] = field(default_factory=list)  # (action, remote prefix), NAT isolation


@dataclass
class FakeSwitch:
    name: str
    switch_type: str
    external_adapter: str | None = None


@dataclass
class _Fault:
    remaining: int
    error: HypervisorError


def default_facts() -> HostFacts:
    """A healthy Intel host on Windows Server 2022 with 64 GB and 16 logical processors."""
    return HostFacts(
        computer_name="FAKE-HV01",
        os_caption="Microsoft Windows Server 2022 Datacenter",
        os_build=20348,
        cpu_manufacturer="GenuineIntel",
        cpu_name="Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz",
        logical_processors=16,
        memory_total_bytes=64 * GIB,
        memory_free_bytes=60 * GIB,
        hyperv_installed=True,
        hypervisor_present=True,
        firmware_virtualization=True,
        slat=True,
        vm_monitor_mode=True,
        supported_config_versions=("8.0", "9.0", "9.1", "9.2", "9.3", "10.0"),
        default_config_version="10.0",
        vm_path="C:\\ProgramData\\Microsoft\\Windows\\Hyper-V",
        vhd_path="C:\\Nestlab\\Labs",
        disks=(DiskSpace("C:", 500 * GIB, 1000 * GIB),),
        base_images=(),
    )


class FakeDriver:
    """In-memory ``HypervisorDriver``. ``calls`` counts calls per operation."""

    def __init__(
        self,
        *,
        facts: HostFacts | None = None,
        base_images: set[str] | None = None,
        external_adapters: set[str] | None = None,
    ) -> None:
        self.facts = facts or default_facts()
        self.base_images = set(base_images or ())
        self.external_adapters = set(external_adapters or {"Ethernet 2"})
        self.vms: list[FakeVm] = []
        self.switches: dict[str, FakeSwitch] = {}
        self.nats: dict[str, str] = {}  # switch name -> its segment (gateway on its interface)
        self.host_nats: dict[str, str] = {}  # NetNat name -> internal prefix
        self.gateways: dict[str, str] = {}
        self.files: set[str] = set()
        self.calls: dict[str, int] = {}
        self._faults: dict[str, _Fault] = {}

    def session(self) -> AbstractContextManager[None]:
        """Nothing to keep open in process."""
        return nullcontext()

    # --- test hooks -----------------------------------------------------------------------

    def inject_fault(self, point: str, *, times: int = 1, error: HypervisorError | None = None) -> None:
        """Fail the next ``times`` arrivals at ``point`` with ``error``."""
        operation = point.split(".", 1)[0]
        if not hasattr(self, operation) or ("." in point and point.split(".", 1)[1] not in ENSURE_VM_STEPS):
            raise ValueError(f"unknown fault point {point!r}")
        self._faults[point] = _Fault(times, error or HostUnreachable("injected fault at " + point))

    def add_foreign_vm(self, name: str, *, notes: str = "", state: str = "Off") -> FakeVm:
        """Add a VM Nestlab did not make (possibly with a name already taken), as an operator
        or a crashed run might have."""
        vm = FakeVm(name=name, vm_id=str(uuid.uuid4()), notes=notes, state=state)
        self.vms.append(vm)
        return vm

    def vm(self, name: str) -> FakeVm | None:
        """The VM of that name (for assertions); HostError if there are several."""
        return self._at_most_one(name)

    # --- HypervisorDriver -----------------------------------------------------------------

    def host_facts(self, base_images: list[str]) -> HostFacts:
        self._enter("host_facts")
        for path in base_images:
            check_windows_path(path, what="base image path")
        running_mb = sum(vm.memory_mb for vm in self.vms if vm.state == "Running")
        return replace(
            self.facts,
            memory_free_bytes=max(0, self.facts.memory_total_bytes - HOST_RESERVED_BYTES - running_mb * MIB),
            base_images=tuple(BaseImage(path, path in self.base_images) for path in base_images),
        )

    def host_readiness(self, *, external_adapter: str | None = None) -> HostReadiness:
        self._enter("host_readiness")
        return HostReadiness(
            hyperv_module=True,
            vmms_status="Running",
            vmhost_error="",
            dep_available=True,
            elevated=True,
            netnats=tuple(self.nats),
            adapter_present=(external_adapter in self.external_adapters) if external_adapter else None,
        )

    def base_images_present(self, paths: list[str]) -> list[BaseImage]:
        self._enter("base_images_present")
        found = []
        for path in paths:
            try:
                check_base_image_path(path)
            except InvalidValue as exc:
                found.append(BaseImage(path, False, problem=str(exc)))
            else:
                found.append(BaseImage(path, path in self.base_images))
        return found

    def ensure_switch(self, spec: SwitchSpec) -> None:
        self._enter("ensure_switch")
        wanted = _SWITCH_TYPES[spec.mode]
        existing = self.switches.get(spec.name)
        if existing is not None and existing.switch_type != wanted:
            raise InvalidState(f"nestlab: switch {spec.name} belongs to something else: it is {existing.switch_type}")
        if spec.mode == "vlan" and spec.external_adapter not in self.external_adapters:
            raise NotFound(f"No MSFT_NetAdapter objects found with property 'Name' equal to '{spec.external_adapter}'.")
        if existing is None:
            self.switches[spec.name] = FakeSwitch(spec.name, wanted, spec.external_adapter)
        if spec.mode == "nat":
            # One NetNat per host (HOST_NAT_NAME over the pool), as ENSURE_NAT_SWITCH keeps it.
            others = {name: prefix for name, prefix in self.host_nats.items() if name != HOST_NAT_NAME}
            if others:
                raise HostError(f"nestlab: this host already has the NAT network {next(iter(others))}")
            if self.host_nats.setdefault(HOST_NAT_NAME, spec.nat_pool) != spec.nat_pool:
                raise HostError(f"nestlab: NAT network {HOST_NAT_NAME} covers {self.host_nats[HOST_NAT_NAME]}")
            network = spec.nat_network
            self.gateways.setdefault(spec.name, str(next(network.hosts())))
            self.nats.setdefault(spec.name, str(network))

    def remove_switch(self, name: str, *, force: bool = False) -> None:
        self._enter("remove_switch")
        check_switch_name(name)
        connected = [vm for vm in self.vms if vm.switch_name == name]
        if connected and not force:
            raise InvalidState(
                f"nestlab: switch {name} still has {len(connected)} connected virtual machine adapters; "
                "disconnect them or force the removal"
            )
        for vm in connected:
            vm.switch_name = None
        self.nats.pop(name, None)
        self.gateways.pop(name, None)
        self.switches.pop(name, None)

    def ensure_vm(self, spec: VmSpec, *, on_step: Callable[[str], None] | None = None) -> str:
        self._enter("ensure_vm")
        report = on_step or (lambda step: None)
        vm = self._at_most_one(spec.name)
        if vm is not None and vm.notes and vm.notes != spec.notes:
            raise InvalidState(f"nestlab: VM {spec.name} belongs to something else (its Notes differ)")
        shared = self.switches.get(spec.switch_name)
        if spec.vlan_id is None and shared is not None and shared.switch_type == "External":
            raise InvalidValue(f"nestlab: switch {spec.switch_name} is shared, so a lab on it needs an access VLAN")
        if vm is None:
            if spec.disk_path not in self.files:
                self._enter("ensure_vm.disk")
                if spec.base_image_path not in self.base_images:
                    raise NotFound(f"The system cannot find the file specified: {spec.base_image_path}")
                self.files.update({spec.folder, spec.disk_path})
                report("disk")
            self._enter("ensure_vm.vm")
            if spec.switch_name not in self.switches:
                raise NotFound(f'Hyper-V was unable to find a virtual switch with name "{spec.switch_name}".')
            if spec.config_version not in self.facts.supported_config_versions:
                raise HostError(f"The virtual machine configuration version {spec.config_version} is not supported.")
            vm = FakeVm(spec.name, str(uuid.uuid4()), switch_name=spec.switch_name, disk_path=spec.disk_path)
            vm.memory_mb = spec.memory_mb
            self.vms.append(vm)
            report("vm")
        if vm.notes != spec.notes or vm.automatic_checkpoints or vm.checkpoint_type != "Standard":
            self._enter("ensure_vm.notes")
            vm.notes, vm.automatic_checkpoints, vm.checkpoint_type = spec.notes, False, "Standard"
            report("notes")
        if CLEAN_CHECKPOINT in vm.checkpoints:
            return vm.vm_id
        if spec.nat_segment is not None:
            for acl in (("Deny", spec.nat_pool), ("Allow", spec.nat_segment)):
                if acl not in vm.acls:
                    vm.acls.append(acl)
        if vm.dynamic_memory or vm.memory_mb != spec.memory_mb:
            self._enter("ensure_vm.memory")
            self._require_off(vm)
            vm.dynamic_memory, vm.memory_mb = False, spec.memory_mb
            report("memory")
        if vm.vcpus != spec.vcpus or not vm.expose_virtualization:
            self._enter("ensure_vm.processor")
            self._require_off(vm)
            self._require_nesting(spec)
            vm.vcpus, vm.expose_virtualization = spec.vcpus, True
            report("processor")
        if vm.switch_name != spec.switch_name or not vm.guards_on:
            self._enter("ensure_vm.network")
            vm.switch_name, vm.guards_on = spec.switch_name, True
            report("network")
        if spec.vlan_id is not None and vm.vlan_id != spec.vlan_id:
            self._enter("ensure_vm.vlan")
            vm.vlan_id = spec.vlan_id
            report("vlan")
        self._enter("ensure_vm.checkpoint")
        vm.checkpoints[CLEAN_CHECKPOINT] = vm.state
        report("checkpoint")
        return vm.vm_id

    def start_vm(self, name: str) -> None:
        self._enter("start_vm")
        vm = self._exactly_one(name)
        if vm.state != "Running":
            self._start(vm)

    def stop_vm(self, name: str, *, graceful_timeout_s: int = 60) -> None:
        self._enter("stop_vm")
        self._exactly_one(name).state = "Off"

    def reset_vm(self, name: str) -> None:
        self._restore("reset_vm", name, CLEAN_CHECKPOINT)

    def checkpoint_vm(self, name: str, checkpoint: str) -> None:
        self._enter("checkpoint_vm")
        check_checkpoint_name(checkpoint)
        vm = self._exactly_one(name)
        vm.checkpoints.setdefault(checkpoint, vm.state)

    def restore_vm(self, name: str, checkpoint: str) -> None:
        self._restore("restore_vm", name, checkpoint)

    def remove_checkpoint(self, name: str, checkpoint: str) -> None:
        self._enter("remove_checkpoint")
        check_checkpoint_name(checkpoint)
        if checkpoint.lower() == CLEAN_CHECKPOINT:
            raise InvalidValue(f"the {CLEAN_CHECKPOINT} checkpoint is what reset restores; it is removed with the VM")
        self._exactly_one(name).checkpoints.pop(checkpoint, None)

    def delete_vm(self, name: str, *, vm_root: str) -> None:
        self._enter("delete_vm")
        check_windows_path(vm_root, what="VM root folder")
        vm = self._at_most_one(name)
        if vm is not None:
            if vm.notes and not vm.notes.startswith(NOTES_TAG):
                raise InvalidState(f"nestlab: VM {name} is not tagged by Nestlab; refusing to delete it")
            self.vms.remove(vm)
        folder = vm_root + "\\" + name
        self.files.discard(folder + "\\" + name + ".vhdx")
        self.files.discard(folder)

    def vm_status(self, name: str) -> VmStatus:
        self._enter("vm_status")
        vm = self._exactly_one(name)
        running = vm.state == "Running"
        return VmStatus(
            name=vm.name,
            vm_id=vm.vm_id,
            state=vm.state,
            heartbeat="OK" if running else None,
            ip_addresses=[self._address_of(vm)] if running else [],
            uptime_s=0,
        )

    def checkpoint_names(self, name: str) -> list[str]:
        self._enter("checkpoint_names")
        return list(self._exactly_one(name).checkpoints)

    def list_tagged_vms(self) -> list[TaggedVm]:
        self._enter("list_tagged_vms")
        return [
            TaggedVm(vm.name, vm.vm_id, vm.state, lab_id_from_notes(vm.notes), vm.notes)
            for vm in self.vms
            if vm.notes.startswith(NOTES_TAG)
        ]

    def grant_console(self, name: str, user: str) -> str:
        self._enter("grant_console")
        check_account(user)
        vm = self._exactly_one(name)
        vm.console_users.add(user)
        return vm.vm_id

    def measure_vm(self, name: str) -> Usage:
        self._enter("measure_vm")
        vm = self._exactly_one(name)
        vm.metering = True
        used = vm.memory_mb if vm.state == "Running" else 0
        return Usage(name, 0, used, used, used, 0)

    # --- internals ------------------------------------------------------------------------

    def _enter(self, point: str) -> None:
        if "." not in point:
            self.calls[point] = self.calls.get(point, 0) + 1
        fault = self._faults.get(point)
        if fault is not None and fault.remaining > 0:
            fault.remaining -= 1
            raise fault.error

    def _at_most_one(self, name: str) -> FakeVm | None:
        check_vm_name(name)
        found = [vm for vm in self.vms if vm.name.lower() == name.lower()]
        if len(found) > 1:
            raise HostError(f"nestlab: {len(found)} virtual machines are named {name}; refusing to guess")
        return found[0] if found else None

    def _exactly_one(self, name: str) -> FakeVm:
        vm = self._at_most_one(name)
        if vm is None:
            raise NotFound(f'Hyper-V was unable to find a virtual machine with name "{name}".')
        return vm

    @staticmethod
    def _require_off(vm: FakeVm) -> None:
        if vm.state != "Off":
            raise InvalidState("The operation cannot be performed while the virtual machine is in its current state.")

    def _require_nesting(self, spec: VmSpec) -> None:
        """Nested virtualization needs, per CPU vendor, a minimum OS build and VM version."""
        amd = self.facts.cpu_vendor == "amd"
        minimum_build, minimum_version = (20348, (9, 3)) if amd else (14393, (8, 0))
        version = tuple(int(part) for part in spec.config_version.split("."))
        if self.facts.os_build < minimum_build or version < minimum_version:
            raise InvalidState(
                f"Cannot enable virtualization extensions for '{spec.name}': this host or configuration version "
                f"{spec.config_version} does not support nested virtualization on {'AMD' if amd else 'Intel'}."
            )

    def _start(self, vm: FakeVm) -> None:
        in_use_mb = sum(other.memory_mb for other in self.vms if other.state == "Running")
        if (in_use_mb + vm.memory_mb) * MIB > self.facts.memory_total_bytes - HOST_RESERVED_BYTES:
            raise InsufficientResources(f"Not enough memory in the system to start the virtual machine {vm.name}.")
        vm.state = "Running"

    def _restore(self, operation: str, name: str, checkpoint: str) -> None:
        self._enter(operation)
        check_checkpoint_name(checkpoint)
        vm = self._exactly_one(name)
        if checkpoint not in vm.checkpoints:
            raise NotFound(f'Hyper-V was unable to find a checkpoint with name "{checkpoint}".')
        was_running = vm.state == "Running"
        vm.state = vm.checkpoints[checkpoint]
        if was_running and vm.state != "Running":
            self._start(vm)

    def _address_of(self, vm: FakeVm) -> str:
        # WinNAT assigns guests no address (hyperv-real-host.md [S5]): with no DHCP on the
        # segment a guest gives itself a link-local one.
        return "169.254.0." + str(1 + self.vms.index(vm) % 250)
