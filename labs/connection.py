"""How a user reaches a lab's console: VMConnect to the Hyper-V host on port 2179.

VMConnect (and mstsc with a .rdp file) connects to the host's VM bus endpoint on TCP 2179 and
names the VM in the pre-connection blob (``pcb``). The blob is the VM's GUID when we know it
(the worker stores it when it builds the VM); otherwise the VM name, which the host also accepts
for VMConnect. Values come from validated fields (host names, our own VM names); line breaks are
still stripped so no value can add a line to the file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from config.errors import InvalidTransition
from labs.states import LIVE, LabState

VMCONNECT_PORT = 2179
_UNSAFE = re.compile(r"[\r\n\x00]")


@dataclass(frozen=True)
class Connection:
    host: str
    port: int
    vm_name: str
    vm_id: str | None
    rdp: str


def _clean(value: str) -> str:
    return _UNSAFE.sub("", str(value))


def lab_vm_id(lab) -> str | None:
    """The VM's GUID, which the worker stores on the lab when it builds the VM; None before that."""
    return str(lab.vm_id) if lab.vm_id else None


def rdp_file(*, host: str, pcb: str) -> str:
    lines = [
        f"full address:s:{_clean(host)}:{VMCONNECT_PORT}",
        f"server port:i:{VMCONNECT_PORT}",
        f"pcb:s:{_clean(pcb)}",
        "negotiate security layer:i:0",
        "prompt for credentials:i:1",
        "authentication level:i:2",
        "enablecredsspsupport:i:1",
    ]
    return "\r\n".join(lines) + "\r\n"


def lab_connection(lab) -> Connection:
    """Connection details for a lab that has a VM. Raises InvalidTransition if it has none yet."""
    if lab.host_id is None or lab.state not in LIVE or lab.state in (LabState.REQUESTED, LabState.DELETING):
        raise InvalidTransition(
            f"A lab that is {lab.state} has no console to connect to yet.", state=lab.state, event="connect"
        )
    vm_id = lab_vm_id(lab)
    host = lab.host.endpoint
    return Connection(
        host=host,
        port=VMCONNECT_PORT,
        vm_name=lab.vm_name,
        vm_id=vm_id,
        rdp=rdp_file(host=host, pcb=vm_id or lab.vm_name),
    )
