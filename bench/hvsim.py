"""hvsim throughput and memory: trivial ``run_ps`` round trips per second through pywinrm at 1 and
16 clients (latency zero), and the simulator's resident memory while it holds 2,000 VMs.

    .venv/bin/python bench/hvsim.py

Targets: >= 150 round trips/s at 16 clients; < 200 MB RSS with 2,000 VMs. Not a test: it prints.
"""

from __future__ import annotations

import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from workers.hyperv.simulator.testing import run_simulator  # noqa: E402

TRIVIAL = "$ProgressPreference='SilentlyContinue'; 'pong'"
SECONDS = 5.0
VMS = 2000
BATCH = 100


def round_trips_per_second(sim, clients: int) -> float:
    counts = [0] * clients
    deadline = time.monotonic() + SECONDS

    def client(index: int) -> None:
        session = sim.session()
        while time.monotonic() < deadline:
            response = session.run_ps(TRIVIAL)
            assert response.std_out == b"pong\r\n", response
            counts[index] += 1

    threads = [threading.Thread(target=client, args=(index,)) for index in range(clients)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts) / (time.monotonic() - started)


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def main() -> None:
    with run_simulator(latency="zero") as sim:
        sim.session().run_ps(TRIVIAL)  # warm up
        for clients in (1, 16):
            print(f"run_ps round trips/s, {clients:2d} client(s): {round_trips_per_second(sim, clients):7.1f}")
        pid = sim.process.pid
        print(f"RSS, empty host:            {rss_mb(pid):7.1f} MB")
        session = sim.session()
        started = time.monotonic()
        for batch in range(VMS // BATCH):
            response = session.run_ps(
                f"$ProgressPreference='SilentlyContinue'; 1..{BATCH} | ForEach-Object "
                f'{{ New-VM -Name "bench-{batch}-$_" -NoVHD | Out-Null }}'
            )
            assert response.status_code == 0, response.std_err
        created = time.monotonic() - started
        count = len(sim.state()["vms"])
        print(f"created {count} VMs in {created:.1f} s")
        print(f"RSS, {count} VMs:            {rss_mb(pid):7.1f} MB")
        started = time.monotonic()
        response = session.run_ps("$ProgressPreference='SilentlyContinue'; @(Get-VM).Count")
        print(f"Get-VM of {response.std_out.decode().strip()} VMs: {time.monotonic() - started:.2f} s")


if __name__ == "__main__":
    main()
