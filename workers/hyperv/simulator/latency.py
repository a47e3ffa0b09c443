"""Per-cmdlet latency, so the product can be exercised against a host that is as slow as a real one.

``zero`` (the default) answers at once. ``realistic`` sleeps, per cmdlet, roughly what a real Hyper-V
host on server hardware takes; ``--time-scale`` multiplies every figure (0.1 makes a demo ten times
faster). The figures are the simulator's estimates of the order of magnitude, not measurements of
a particular host. The sleep happens outside the host lock, as on a real host where two slow
operations on different VMs overlap.

Also: every ``powershell.exe`` start costs ``POWERSHELL_STARTUP`` (process start and module load).
"""

from __future__ import annotations

POWERSHELL_STARTUP = 0.6
DEFAULT_SECONDS = 0.05  # a cmdlet not in the table (Where-Object, ConvertTo-Json, ...)
GET_SECONDS = 0.2  # any Get-* Hyper-V or CIM query not listed below

# cmdlet -> seconds (realistic profile, time scale 1)
REALISTIC_SECONDS = {
    "New-VM": 2.5,
    "New-VHD": 1.0,
    "Set-VM": 0.5,
    "Set-VMProcessor": 0.5,
    "Set-VMMemory": 0.5,
    "Set-VMNetworkAdapter": 0.4,
    "Set-VMNetworkAdapterVlan": 0.4,
    "Connect-VMNetworkAdapter": 0.5,
    "Start-VM": 4.0,
    "Stop-VM": 6.0,  # graceful shutdown of the guest; -TurnOff is quicker, see below
    "Restart-VM": 8.0,
    "Checkpoint-VM": 3.0,
    "Restore-VMSnapshot": 4.0,
    "Remove-VMSnapshot": 2.0,
    "Remove-VM": 2.0,
    "New-VMSwitch": 3.0,
    "Remove-VMSwitch": 2.0,
    "New-NetNat": 1.5,
    "Remove-NetNat": 1.0,
    "New-NetIPAddress": 1.0,
    "Remove-Item": 0.3,
    "Get-VM": 0.3,
    "Get-CimInstance": 0.4,
    "Get-WindowsFeature": 1.5,
    "Get-WindowsOptionalFeature": 2.0,
    "Measure-VM": 0.5,
}
TURN_OFF_SECONDS = 1.5
CORE_MODULE_TYPES = ("Microsoft.PowerShell.Commands.",)


class Latency:
    def __init__(self, profile: str = "zero", time_scale: float = 1.0):
        if profile not in {"zero", "realistic"}:
            raise ValueError(f"unknown latency profile {profile!r}")
        self.profile = profile
        self.time_scale = time_scale

    def startup(self) -> float:
        return 0.0 if self.profile == "zero" else POWERSHELL_STARTUP * self.time_scale

    def cmdlet(self, name: str, arguments: dict, implementing_type: str) -> float:
        """Seconds the given cmdlet call takes on this host."""
        if self.profile == "zero":
            return 0.0
        if name == "Stop-VM" and arguments.get("TurnOff"):
            seconds = TURN_OFF_SECONDS
        elif name in REALISTIC_SECONDS:
            seconds = REALISTIC_SECONDS[name]
        elif name.startswith("Get-") and not implementing_type.startswith(CORE_MODULE_TYPES):
            seconds = GET_SECONDS
        else:
            seconds = DEFAULT_SECONDS
        return seconds * self.time_scale


def latency_table_markdown() -> str:
    """The table for the README, generated from the one above so they cannot drift."""
    rows = [f"| `{name}` | {seconds:g} |" for name, seconds in sorted(REALISTIC_SECONDS.items())]
    rows.append(f"| `Stop-VM -TurnOff` | {TURN_OFF_SECONDS:g} |")
    rows.append(f"| other `Get-*` (Hyper-V, CIM) | {GET_SECONDS:g} |")
    rows.append(f"| anything else | {DEFAULT_SECONDS:g} |")
    rows.append(f"| each `powershell.exe` start | {POWERSHELL_STARTUP:g} |")
    return "| cmdlet | seconds |\n|---|---|\n" + "\n".join(rows)
