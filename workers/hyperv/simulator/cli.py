"""Entry point: start the simulator, print one ``listening on <url>`` line, run until SIGTERM/SIGINT."""

from __future__ import annotations

import signal
import sys
import threading

from .options import parse_options
from .server import Simulator


def main(argv: list[str] | None = None) -> int:
    options = parse_options(argv)
    try:
        simulator = Simulator(options)
    except (OSError, ValueError) as error:  # an unreadable state file, a bad certificate
        print(f"hvsim: cannot start: {error}", file=sys.stderr, flush=True)
        return 1
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    try:
        url = simulator.start()
    except OSError as error:  # the port is taken
        print(f"hvsim: cannot listen on {options.host}:{options.port}: {error}", file=sys.stderr, flush=True)
        return 1
    print(f"listening on {url}", flush=True)
    stop.wait()
    simulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
