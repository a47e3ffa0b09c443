"""Port ACLs on VM network adapters (docs/hyperv.md, "Networking"):
Add-/Get-/Remove-VMNetworkAdapterAcl and Add-/Get-/Remove-VMNetworkAdapterExtendedAcl.

The simulator records the rules (they show in Get-* and in the state dump); it has no packets to
filter. ``-Direction Both`` is kept as one Inbound and one Outbound rule, as Get- lists them.
"""

from __future__ import annotations

from typing import Any

from ..powershell.binding import Parameter
from ..powershell.evaluator import Invocation
from ..powershell.values import PSObject
from . import facts
from .cmdlets_network import selected_adapters
from .common import COMPUTER, PASSTHRU, VM_OBJECT, cmdlet, vm_error
from .model import ExtendedPortAcl, Host, PortAcl

ADDRESS_PARAMETERS = ("RemoteIPAddress", "LocalIPAddress", "RemoteMacAddress", "LocalMacAddress")


def _directions(direction: str) -> list[str]:
    return ["Inbound", "Outbound"] if direction == "Both" else [direction]


def _addresses(invocation: Invocation) -> tuple[str | None, str | None]:
    given = [name for name in ADDRESS_PARAMETERS if name in invocation]
    if len(given) != 1:
        raise invocation.error(
            "Parameter set cannot be resolved using the specified named parameters.",
            category="InvalidArgument",
            error_id="AmbiguousParameterSet",
            exception="ParameterBindingException",
            terminating=True,
        )
    value = invocation.get(given[0])
    return (value, None) if given[0].startswith("Remote") else (None, value)


def _acl_view(vm_name: str, adapter_name: str, acl: PortAcl) -> PSObject:
    return PSObject(
        "Microsoft.HyperV.PowerShell.VMNetworkAdapterAclSetting",
        {
            "VMName": vm_name,
            "AdapterName": adapter_name,
            "Action": facts.AclAction(acl.action),
            "Direction": facts.AclDirection(acl.direction),
            "RemoteAddress": acl.remote_address,
            "LocalAddress": acl.local_address,
            "MeteredMegabytes": 0,
        },
    )


def add_acl(invocation: Invocation, host: Host) -> list[Any]:
    remote, local = _addresses(invocation)
    output = []
    for vm, adapter in selected_adapters(invocation, host):
        for direction in _directions(invocation.get("Direction")):
            acl = PortAcl(invocation.get("Action"), direction, remote, local)
            if acl not in adapter.acls:
                adapter.acls.append(acl)
            if invocation.get("Passthru"):
                output.append(_acl_view(vm.name if vm else "", adapter.name, acl))
    return output


def get_acls(invocation: Invocation, host: Host) -> list[Any]:
    return [
        _acl_view(vm.name if vm else "", adapter.name, acl)
        for vm, adapter in selected_adapters(invocation, host)
        for acl in adapter.acls
    ]


def remove_acl(invocation: Invocation, host: Host) -> list[Any]:
    remote, local = _addresses(invocation)
    directions = _directions(invocation.get("Direction"))
    for _, adapter in selected_adapters(invocation, host):
        adapter.acls = [
            acl
            for acl in adapter.acls
            if not (
                acl.action == invocation.get("Action")
                and acl.direction in directions
                and (acl.remote_address, acl.local_address) == (remote, local)
            )
        ]
    return []


def _extended_view(vm_name: str, adapter_name: str, acl: ExtendedPortAcl) -> PSObject:
    return PSObject(
        "Microsoft.HyperV.PowerShell.VMNetworkAdapterExtendedAclSetting",
        {
            "VMName": vm_name,
            "AdapterName": adapter_name,
            "Action": facts.AclAction(acl.action),
            "Direction": facts.AclDirection(acl.direction),
            "Weight": acl.weight,
            "RemoteIPAddress": acl.remote_ip_address,
            "LocalIPAddress": acl.local_ip_address,
            "RemotePort": acl.remote_port,
            "LocalPort": acl.local_port,
            "Protocol": acl.protocol,
            "Stateful": acl.stateful,
        },
    )


def add_extended_acl(invocation: Invocation, host: Host) -> list[Any]:
    output = []
    for vm, adapter in selected_adapters(invocation, host):
        acl = ExtendedPortAcl(
            invocation.get("Action"),
            invocation.get("Direction"),
            invocation.get("Weight"),
            invocation.get("RemoteIPAddress"),
            invocation.get("LocalIPAddress"),
            invocation.get("RemotePort"),
            invocation.get("LocalPort"),
            invocation.get("Protocol"),
            bool(invocation.get("Stateful", False)),
        )
        if any(rule.weight == acl.weight and rule.direction == acl.direction for rule in adapter.extended_acls):
            raise vm_error(
                invocation,
                f"Failed to add the extended port ACL: '{vm.name if vm else adapter.name}' already has an "
                f"{acl.direction.lower()} rule with weight {acl.weight}.",
                target=vm.name if vm else adapter.name,
                category="ResourceExists",
                error_id="ObjectExists",
            )
        adapter.extended_acls.append(acl)
        if invocation.get("Passthru"):
            output.append(_extended_view(vm.name if vm else "", adapter.name, acl))
    return output


def get_extended_acls(invocation: Invocation, host: Host) -> list[Any]:
    return [
        _extended_view(vm.name if vm else "", adapter.name, acl)
        for vm, adapter in selected_adapters(invocation, host)
        for acl in sorted(adapter.extended_acls, key=lambda rule: (rule.direction, rule.weight))
    ]


def remove_extended_acl(invocation: Invocation, host: Host) -> list[Any]:
    for _, adapter in selected_adapters(invocation, host):
        adapter.extended_acls = [
            rule
            for rule in adapter.extended_acls
            if not (rule.weight == invocation.get("Weight") and rule.direction == invocation.get("Direction"))
        ]
    return []


_SELECT = (
    Parameter("VMName", "strings", position=0),
    Parameter("VMNetworkAdapterName"),
    Parameter("VMNetworkAdapter", "any", from_pipeline=True),
    VM_OBJECT,
    Parameter("ManagementOS", "switch"),
    COMPUTER,
)
_DIRECTION = Parameter(
    "Direction",
    "choice",
    mandatory=True,
    choices=("Inbound", "Outbound", "Both"),
    type_name="Microsoft.HyperV.PowerShell.VMNetworkAdapterAclDirection",
)
_ADDRESSES = tuple(Parameter(name) for name in ADDRESS_PARAMETERS)
_EXTENDED_DIRECTION = Parameter(
    "Direction",
    "choice",
    mandatory=True,
    choices=("Inbound", "Outbound"),
    type_name="Microsoft.HyperV.PowerShell.VMNetworkAdapterExtendedAclDirection",
)
_WEIGHT = Parameter("Weight", "int", mandatory=True, minimum=1)
ACL_CMDLETS = (
    cmdlet(
        "Add-VMNetworkAdapterAcl",
        add_acl,
        (
            *_SELECT,
            *_ADDRESSES,
            _DIRECTION,
            PASSTHRU,
            Parameter(
                "Action",
                "choice",
                mandatory=True,
                choices=("Allow", "Deny", "Meter"),
                type_name="Microsoft.HyperV.PowerShell.VMNetworkAdapterAclAction",
            ),
        ),
        mutates=True,
    ),
    cmdlet("Get-VMNetworkAdapterAcl", get_acls, _SELECT),
    cmdlet(
        "Remove-VMNetworkAdapterAcl",
        remove_acl,
        (
            *_SELECT,
            *_ADDRESSES,
            _DIRECTION,
            PASSTHRU,
            Parameter(
                "Action",
                "choice",
                mandatory=True,
                choices=("Allow", "Deny", "Meter"),
                type_name="Microsoft.HyperV.PowerShell.VMNetworkAdapterAclAction",
            ),
        ),
        mutates=True,
    ),
    cmdlet(
        "Add-VMNetworkAdapterExtendedAcl",
        add_extended_acl,
        (
            *_SELECT,
            _EXTENDED_DIRECTION,
            _WEIGHT,
            PASSTHRU,
            Parameter(
                "Action",
                "choice",
                mandatory=True,
                choices=("Allow", "Deny"),
                type_name="Microsoft.HyperV.PowerShell.VMNetworkAdapterExtendedAclAction",
            ),
            Parameter("RemoteIPAddress"),
            Parameter("LocalIPAddress"),
            Parameter("RemotePort"),
            Parameter("LocalPort"),
            Parameter("Protocol"),
            Parameter("Stateful", "bool"),
            Parameter("IdleSessionTimeout", "int"),
            Parameter("IsolationID", "int"),
        ),
        mutates=True,
    ),
    cmdlet("Get-VMNetworkAdapterExtendedAcl", get_extended_acls, _SELECT),
    cmdlet(
        "Remove-VMNetworkAdapterExtendedAcl",
        remove_extended_acl,
        (
            *_SELECT,
            _EXTENDED_DIRECTION,
            _WEIGHT,
        ),
        mutates=True,
    ),
)
