"""What every Hyper-V cmdlet shares: declaring it, locking the host, finding the VMs it targets,
and the error records Hyper-V writes."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ..powershell.binding import CmdletSpec, Parameter
from ..powershell.errors import CmdletError
from ..powershell.evaluator import Invocation
from ..powershell.values import PSObject
from . import facts
from .model import Host, VirtualMachine

HYPERV_COMMANDS = "Microsoft.HyperV.PowerShell.Commands"
Handler = Callable[[Invocation, Host], list[Any] | None]


def cmdlet(
    name: str,
    handler: Handler,
    parameters: tuple[Parameter, ...],
    *,
    mutates: bool = False,
    should_process: bool = False,
    aliases: tuple[str, ...] = (),
    module: str = "Hyper-V",
    implementing_type: str | None = None,
) -> CmdletSpec:
    """Declare a host cmdlet. The handler runs under the host lock; ``mutates`` marks the state dirty."""

    def run(invocation: Invocation) -> list[Any]:
        host: Host = invocation.interpreter.context
        if invocation.get("WhatIf"):
            invocation.interpreter.stdout_lines.append(f'What if: Performing the operation "{name}".')
            return []
        try:
            with host.lock:
                host.settle(time.time())
                output = handler(invocation, host)
                if mutates:
                    host.dirty = True
        finally:
            if invocation.sleep_after:
                _sleep_unless_cancelled(invocation, invocation.sleep_after)
        return list(output or [])

    type_name = implementing_type or f"{HYPERV_COMMANDS}.{name.replace('-', '')}"
    return CmdletSpec(
        name, run, parameters, type_name, should_process=should_process or mutates, aliases=aliases, module=module
    )


def _sleep_unless_cancelled(invocation: Invocation, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not invocation.interpreter.is_cancelled():
        time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))


def vm_error(
    invocation: Invocation,
    message: str,
    *,
    target: str,
    category: str = "InvalidOperation",
    error_id: str = "OperationFailed",
) -> CmdletError:
    language = getattr(getattr(invocation.interpreter.context, "config", None), "language", "en-US")
    return invocation.error(
        facts.localized(message, language),
        category=category,
        error_id=error_id,
        exception="VirtualizationException",
        target=target,
    )


def not_found(invocation: Invocation, name: str) -> CmdletError:
    return vm_error(
        invocation,
        facts.VM_NOT_FOUND.format(name=name),
        target=name,
        category="InvalidArgument",
        error_id="InvalidParameter",
    )


def wrong_state(invocation: Invocation, vm: VirtualMachine) -> CmdletError:
    return vm_error(invocation, facts.WRONG_STATE, target=vm.name, category="InvalidOperation", error_id="InvalidState")


def has_wildcard(name: str) -> bool:
    return any(char in name for char in "*?[")


def target_vms(invocation: Invocation, host: Host, name_parameter: str = "Name") -> list[VirtualMachine]:
    """The VMs a cmdlet acts on: piped VM objects, ``-VM``, or names (wildcards allowed).

    A name that matches nothing writes the not-found error (non-terminating, like Hyper-V) and the
    cmdlet continues with the other names.
    """
    objects = invocation.get("VM")
    if objects is None and invocation.input is not None and name_parameter not in invocation:
        objects = invocation.input
    if objects is not None:
        found = []
        for item in objects if isinstance(objects, list) else [objects]:
            reference = item.ref if isinstance(item, PSObject) else None
            vm = reference[0] if isinstance(reference, tuple) else reference
            if isinstance(vm, VirtualMachine) and host.vm_by_id(vm.id) is not None:
                found.append(host.vm_by_id(vm.id))
            elif isinstance(item, str):
                found.extend(_by_name(invocation, host, item))
            else:
                invocation.write_error(not_found(invocation, getattr(vm, "name", str(item))))
        return found
    names = invocation.get(name_parameter)
    if names is None:
        return []
    found = []
    for name in names:
        found.extend(_by_name(invocation, host, name))
    return found


def _by_name(invocation: Invocation, host: Host, name: str) -> list[VirtualMachine]:
    matches = host.vms_named(name)
    if not matches and not has_wildcard(name):
        invocation.write_error(not_found(invocation, name))
    return matches


VM_NAME = Parameter("Name", "strings", position=0, aliases=("vmname",))
VM_NAME_REQUIRED = Parameter(
    "Name", "strings", position=0, aliases=("vmname",), mandatory=True, from_pipeline=True, alternatives=("VM",)
)
VMNAME = Parameter("VMName", "strings", position=0, mandatory=True, from_pipeline=True, alternatives=("VM",))
VM_OBJECT = Parameter("VM", "any", from_pipeline=True)
PASSTHRU = Parameter("Passthru", "switch")
COMPUTER = Parameter("ComputerName", "strings", aliases=("cn",))
