"""Benchmark: the Hyper-V driver's lifecycle against hvsim (zero latency), over HTTP.

Prints, for create -> start -> delete of one lab (median of 20 runs):
- wall time per operation and for the whole lifecycle;
- WinRM round trips (SOAP requests) per operation;
- the driver's own overhead per operation: wall time minus the time spent waiting on HTTP for
  its SOAP requests (what is left is pywinrm XML building/parsing plus the driver's Python);
- as a reference, a raw pywinrm round trip of a trivial script (``'ok'``) through
  ``winrm.Protocol`` (open shell, command, receive, signal, close).

Run: ``.venv/bin/python bench/driver.py`` (or ``make bench`` if wired there).
"""

from __future__ import annotations

import base64
import os
import statistics
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from winrm.protocol import Protocol  # noqa: E402

from workers.hyperv.driver import HyperVDriver  # noqa: E402
from workers.hyperv.interface import ConnectionSpec, SwitchSpec, VmSpec  # noqa: E402
from workers.hyperv.simulator.testing import run_simulator  # noqa: E402

RUNS = 20
IMAGE = "C:\\NestlabImages\\win2022-base.vhdx"
ROOT = "C:\\Nestlab\\Labs"
SWITCH = "nl-bench"


class TimedSend:
    """Wraps a Protocol's ``send_message`` to add up the time spent in HTTP exchanges."""

    def __init__(self, protocol: Protocol) -> None:
        self.seconds = 0.0
        self._send = protocol.send_message
        protocol.send_message = self  # type: ignore[method-assign]

    def __call__(self, message: str) -> bytes:
        started = time.perf_counter()
        try:
            return self._send(message)
        finally:
            self.seconds += time.perf_counter() - started


def lab_spec() -> VmSpec:
    return VmSpec(
        name="lab-" + uuid.uuid4().hex[:12],
        lab_id=uuid.uuid4(),
        tenant_slug="bench",
        vcpus=2,
        memory_mb=4096,
        disk_gb=60,
        base_image_path=IMAGE,
        vm_root=ROOT,
        generation=2,
        config_version="10.0",
        switch_name=SWITCH,
    )


def raw_trivial_script_seconds(url: str, user: str, password: str) -> float:
    """One trivial script through pywinrm's Protocol, the way the driver sends scripts."""
    protocol = Protocol(url, transport="plaintext", username=user, password=password)
    command = "powershell -encodedcommand " + base64.b64encode("'ok'".encode("utf-16-le")).decode()
    samples = []
    for _ in range(RUNS):
        started = time.perf_counter()
        shell = protocol.open_shell(codepage=65001)
        command_id = protocol.run_command(shell, command)
        protocol.get_command_output_raw(shell, command_id)
        protocol.cleanup_command(shell, command_id)
        protocol.close_shell(shell, close_session=False)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def main() -> None:
    with run_simulator(latency="zero", cpus=64, memory_mb=1024 * 1024) as sim:
        driver = HyperVDriver(ConnectionSpec(**sim.connection_options()))
        http = TimedSend(driver.client._protocol)
        driver.ensure_switch(SwitchSpec(SWITCH, "private"))

        operations = ("create", "start", "delete")
        wall: dict[str, list[float]] = {name: [] for name in operations}
        overhead: dict[str, list[float]] = {name: [] for name in operations}
        waiting: dict[str, list[float]] = {name: [] for name in operations}
        trips: dict[str, list[int]] = {name: [] for name in operations}
        lifecycle: list[float] = []
        for _ in range(RUNS):
            spec = lab_spec()
            calls = {
                "create": lambda spec=spec: driver.ensure_vm(spec),
                "start": lambda spec=spec: driver.start_vm(spec.name),
                "delete": lambda spec=spec: driver.delete_vm(spec.name, vm_root=ROOT),
            }
            total = 0.0
            for name in operations:
                http_before, trips_before = http.seconds, driver.round_trips
                started = time.perf_counter()
                calls[name]()
                elapsed = time.perf_counter() - started
                total += elapsed
                wall[name].append(elapsed)
                waiting[name].append(http.seconds - http_before)
                overhead[name].append(elapsed - (http.seconds - http_before))
                trips[name].append(driver.round_trips - trips_before)
            lifecycle.append(total)

        trivial = raw_trivial_script_seconds(sim.url, sim.user, sim.password)

    ms = 1000.0
    print(f"hvsim, latency zero, HTTP, median of {RUNS} runs")
    print(f"{'operation':<10} {'wall ms':>8} {'round trips':>12} {'in HTTP ms':>11} {'driver overhead ms':>19}")
    for name in operations:
        print(
            f"{name:<10} {statistics.median(wall[name]) * ms:>8.1f} {statistics.median(trips[name]):>12} "
            f"{statistics.median(waiting[name]) * ms:>11.1f} {statistics.median(overhead[name]) * ms:>19.1f}"
        )
    lifecycle_trips = sum(statistics.median(counts) for counts in trips.values())
    print(f"{'lifecycle':<10} {statistics.median(lifecycle) * ms:>8.1f} {lifecycle_trips:>12}")
    print(
        f"reference: a trivial script through raw pywinrm (5 round trips) takes {trivial * ms:.1f} ms, "
        f"{trivial / 5 * ms:.1f} ms per round trip"
    )


if __name__ == "__main__":
    main()
