"""Entry point: start the simulator, print one ``listening on <url>`` line, run until SIGTERM/SIGINT."""

from __future__ import annotations

import signal
import sys
import threading

from .options import parse_options
from .server import Simulator


def main(argv: list[str] | None = None) -> int:
    options = parse_options(argv)
    simulator = Simulator(options)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    url = simulator.start()
    print(f"listening on {url}", flush=True)
    stop.wait()
    simulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
