"""The command table a script on this host can call, as PowerShell would resolve it."""

from __future__ import annotations

from ..powershell.binding import CmdletSpec
from ..powershell.core_cmdlets import CORE_CMDLETS
from .cmdlets_acl import ACL_CMDLETS
from .cmdlets_network import NETWORK_CMDLETS
from .cmdlets_storage import STORAGE_CMDLETS
from .cmdlets_system import SYSTEM_CMDLETS
from .cmdlets_vm import VM_CMDLETS
from .model import HostConfig

HYPERV_MODULES = {"Hyper-V"}


def command_table(config: HostConfig) -> dict[str, CmdletSpec]:
    """Lower-cased names and aliases -> cmdlet. Without the Hyper-V role, its module is absent,
    so its cmdlets are "not recognized", exactly as on a Windows Server without the role (or with
    the role but without its PowerShell module)."""
    table: dict[str, CmdletSpec] = {}
    for spec in (*CORE_CMDLETS, *VM_CMDLETS, *NETWORK_CMDLETS, *ACL_CMDLETS, *STORAGE_CMDLETS, *SYSTEM_CMDLETS):
        if spec.module in HYPERV_MODULES and not (config.hyperv_role and config.hyperv_module):
            continue
        for name in (spec.name, *spec.aliases):
            table[name.lower()] = spec
    return table
