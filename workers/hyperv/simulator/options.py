"""Command-line options of ``python -m workers.hyperv.simulator`` (and ``manage.py hvsim``)."""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, field

from .faults import FaultRule
from .hyperv import facts
from .hyperv.model import HostConfig
from .shells import DEFAULT_MAX_SHELLS_PER_USER

_ZERO_BOOT_SECONDS = 1.0  # guest boot with --latency zero: short, but long enough to observe
_REALISTIC_BOOT_SECONDS = 30.0
_ZERO_MERGE_SECONDS = 0.5  # the checkpoint merge after Remove-VM: short, but long enough to meet
_REALISTIC_MERGE_SECONDS = 10.0


@dataclass
class SimulatorOptions:
    host: str = "127.0.0.1"
    port: int = 0
    tls: bool = False
    cert: str | None = None
    key: str | None = None
    user: str = "hvsim"
    password: str = "hvsim"
    state_file: str | None = None
    latency: str = "zero"
    time_scale: float = 1.0
    seed: int | None = None
    faults: list[FaultRule] = field(default_factory=list)
    verbose: bool = False
    max_shells_per_user: int = DEFAULT_MAX_SHELLS_PER_USER
    host_config: HostConfig = field(default_factory=HostConfig)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hvsim", description="A Hyper-V host simulator that speaks WinRM (for development and tests)."
    )
    net = parser.add_argument_group("listening")
    net.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    net.add_argument("--port", type=int, default=0, help="port; 0 picks a free one (default 0)")
    net.add_argument("--tls", action="store_true", help="HTTPS with a self-signed certificate made at start")
    net.add_argument("--cert", help="PEM certificate for --tls instead of a self-signed one")
    net.add_argument("--key", help="PEM private key for --cert")
    net.add_argument("--user", default="hvsim", help="Basic auth user (default hvsim)")
    net.add_argument("--password", default="hvsim", help="Basic auth password (default hvsim)")
    machine = parser.add_argument_group("the simulated machine")
    machine.add_argument("--computer-name", default="HV-SIM01")
    machine.add_argument("--cpus", type=int, default=64, help="logical processors (default 64)")
    machine.add_argument("--memory-mb", type=int, default=262144, help="physical memory (default 262144)")
    machine.add_argument("--storage-gb", type=int, default=4096, help="size of C: (default 4096)")
    machine.add_argument(
        "--os-build",
        type=int,
        default=20348,
        help="Windows build: 14393 (2016), 17763 (2019), 20348 (2022, default), 26100 (2025)",
    )
    machine.add_argument("--cpu-vendor", choices=("intel", "amd"), default="intel")
    machine.add_argument(
        "--no-firmware-virtualization",
        action="store_true",
        help="virtualization disabled in BIOS/UEFI: the hypervisor cannot run",
    )
    machine.add_argument("--no-slat", action="store_true", help="a CPU without SLAT (EPT/RVI): no hypervisor")
    machine.add_argument("--no-hyperv-role", action="store_true", help="the Hyper-V role is not installed")
    machine.add_argument(
        "--no-hyperv-module", action="store_true", help="the role without its PowerShell module (no Hyper-V cmdlets)"
    )
    machine.add_argument(
        "--foreign-hypervisor",
        action="store_true",
        help="the host is a guest of another hypervisor: HypervisorPresent, but Hyper-V's own hypervisor"
        " and vmms do not run",
    )
    machine.add_argument(
        "--vmms-stopped", action="store_true", help="the Virtual Machine Management service is stopped"
    )
    machine.add_argument("--no-dep", action="store_true", help="Data Execution Prevention is not available")
    machine.add_argument(
        "--not-elevated", action="store_true", help="WinRM sessions get a UAC-filtered (not elevated) token"
    )
    machine.add_argument("--data-disk-gb", type=int, default=0, help="size of a data drive D: (default: none)")
    machine.add_argument(
        "--base-images",
        default=",".join(facts.DEFAULT_BASE_IMAGES),
        help="comma-separated base VHDX paths a fresh host has",
    )
    machine.add_argument(
        "--missing-base-image",
        action="append",
        default=[],
        metavar="PATH",
        help="one of --base-images that is NOT on disk (repeatable)",
    )
    machine.add_argument(
        "--boot-seconds",
        type=float,
        default=None,
        help="Start-VM to heartbeat OK (default 1 with --latency zero, 30 realistic, x time scale)",
    )
    machine.add_argument(
        "--profile-output",
        default="",
        metavar="TEXT",
        help="a host PowerShell profile that prints TEXT whenever powershell.exe runs without -NoProfile",
    )
    machine.add_argument(
        "--language",
        choices=("en-US", "de-DE"),
        default="en-US",
        help="the host's UI culture: de-DE prints German messages (error ids and categories stay English)",
    )
    machine.add_argument(
        "--merge-seconds",
        type=float,
        default=None,
        help="after Remove-VM of a VM with checkpoints, how long the merge holds its disks open"
        " (default 0.5 with --latency zero, 10 realistic, x time scale)",
    )
    machine.add_argument(
        "--shutdown-seconds",
        type=float,
        default=0.0,
        help="a graceful Stop-VM leaves the VM Stopping this long, even if the caller stops waiting (default 0)",
    )
    run = parser.add_argument_group("behaviour")
    run.add_argument("--state-file", help="JSON file the host state is kept in across restarts")
    run.add_argument("--latency", choices=("zero", "realistic"), default="zero")
    run.add_argument("--time-scale", type=float, default=1.0, help="multiplies every realistic delay")
    run.add_argument("--seed", type=int, help="seed for probabilistic faults")
    run.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="JSON",
        help='a fault rule, e.g. \'{"kind":"error","cmdlet":"New-VM","times":1}\' (repeatable)',
    )
    run.add_argument(
        "--max-shells-per-user",
        type=int,
        default=DEFAULT_MAX_SHELLS_PER_USER,
        help=f"WinRM's MaxShellsPerUser quota (default {DEFAULT_MAX_SHELLS_PER_USER}, as on Windows)",
    )
    run.add_argument("--verbose", action="store_true", help="log each HTTP request to stderr")
    return parser


def parse_options(argv: list[str] | None = None) -> SimulatorOptions:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.cert and not args.key or args.key and not args.cert:
        parser.error("--cert and --key go together")
    faults = []
    for text in args.fault:
        try:
            faults.append(FaultRule.from_dict(json.loads(text)))
        except (ValueError, TypeError) as error:
            parser.error(f"--fault {text!r}: {error}")
    base_images = tuple(path.strip() for path in args.base_images.split(",") if path.strip())
    boot = args.boot_seconds
    if boot is None:
        boot = _ZERO_BOOT_SECONDS if args.latency == "zero" else _REALISTIC_BOOT_SECONDS * args.time_scale
    merge = args.merge_seconds
    if merge is None:
        merge = _ZERO_MERGE_SECONDS if args.latency == "zero" else _REALISTIC_MERGE_SECONDS * args.time_scale
    host_config = HostConfig(
        computer_name=args.computer_name,
        cpus=args.cpus,
        memory_mb=args.memory_mb,
        storage_gb=args.storage_gb,
        os_build=args.os_build,
        cpu_vendor=args.cpu_vendor,
        firmware_virtualization=not args.no_firmware_virtualization,
        slat=not args.no_slat,
        hyperv_role=not args.no_hyperv_role,
        hyperv_module=not args.no_hyperv_module,
        foreign_hypervisor=args.foreign_hypervisor,
        vmms=not args.vmms_stopped,
        dep=not args.no_dep,
        elevated=not args.not_elevated,
        language=args.language,
        data_disk_gb=args.data_disk_gb,
        management_address=args.host,
        base_images=base_images,
        missing_base_images=tuple(args.missing_base_image),
        boot_seconds=boot,
        address_seconds=boot * 1.5,
        profile_output=args.profile_output,
        merge_seconds=merge,
        shutdown_seconds=args.shutdown_seconds,
    )
    return SimulatorOptions(
        host=args.host,
        port=args.port,
        tls=args.tls or bool(args.cert),
        cert=args.cert,
        key=args.key,
        user=args.user,
        password=args.password,
        state_file=args.state_file,
        latency=args.latency,
        time_scale=args.time_scale,
        seed=args.seed,
        faults=faults,
        verbose=args.verbose,
        max_shells_per_user=args.max_shells_per_user,
        host_config=host_config,
    )
