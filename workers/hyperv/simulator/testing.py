"""Run the simulator as a subprocess from tests (yours and other apps').

    with run_simulator(cpus=8, memory_mb=16384) as sim:
        session = sim.session()                      # a pywinrm Session with the right credentials
        session.run_ps("Get-VM | ConvertTo-Json")
        sim.state()["vms"]                           # the state dump (GET /_hvsim/state)
        sim.add_fault("error", cmdlet="New-VM", message="boom", times=1)
        sim.restart()                                # a new process, same port and state file

Keyword options are the command-line options with dashes as underscores: ``True`` adds a flag,
``None``/``False`` leave it out, a list repeats it; ``faults=[{...}]`` become ``--fault`` JSON.
Without ``state_file`` the handle keeps the state in a temporary file, so ``restart()`` works.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import select
import signal
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
START_TIMEOUT_SECONDS = 20.0
DEFAULT_USER = "hvsim"
DEFAULT_PASSWORD = "hvsim"


class SimulatorFailed(RuntimeError):
    """The simulator process did not start, or a control call failed."""


def _arguments(options: dict[str, Any]) -> list[str]:
    argv: list[str] = []
    for key, value in options.items():
        flag = "--" + key.replace("_", "-")
        if key == "faults":
            argv.extend(arg for rule in value for arg in ("--fault", json.dumps(rule)))
        elif value is True:
            argv.append(flag)
        elif value is None or value is False:
            continue
        elif isinstance(value, (list, tuple)):
            for item in value:
                argv.extend((flag, str(item)))
        else:
            argv.extend((flag, str(value)))
    return argv


@dataclass
class SimHandle:
    """A running simulator process and the ways a test talks to it."""

    argv: list[str]
    user: str
    password: str
    state_file: str
    process: subprocess.Popen | None = None
    url: str = ""
    host: str = ""
    port: int = 0
    tls: bool = False
    _stderr: Any = field(default=None, repr=False)

    def connection_options(self, **overrides: Any) -> dict[str, Any]:
        """The keyword arguments of a ``ConnectionSpec`` (workers.hyperv.interface) that reach this
        simulator: Basic over HTTPS when it serves TLS, else over HTTP; ``overrides`` replace any."""
        options: dict[str, Any] = dict(
            host_name="hvsim",
            endpoint=self.host,
            port=self.port,
            transport="ssl" if self.tls else "plaintext",
            username=self.user,
            password=self.password,
            use_tls=self.tls,
            allow_plaintext=not self.tls,
        )
        options.update(overrides)
        return options

    # --- process ------------------------------------------------------------------------------
    def start(self) -> SimHandle:
        env = dict(os.environ)
        env["PYTHONPATH"] = REPO_ROOT + os.pathsep + env.get("PYTHONPATH", "")
        argv = list(self.argv)
        if self.port:
            argv = _replace_port(argv, self.port)
        # stderr goes to a file, not a pipe nobody reads: a chatty simulator must never block on it.
        self.close_log()
        self._stderr = tempfile.TemporaryFile(prefix="hvsim-stderr-")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "workers.hyperv.simulator", *argv],
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
        )
        line = _read_line(self.process, START_TIMEOUT_SECONDS)
        if not line.startswith("listening on "):
            self.process.kill()
            self.process.wait()
            raise SimulatorFailed(f"hvsim did not start: {line!r} {self.stderr_text()}")
        self.url = line[len("listening on ") :].strip()
        parts = urllib.parse.urlsplit(self.url)
        self.host, self.port, self.tls = parts.hostname or "", parts.port or 0, parts.scheme == "https"
        return self

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM, wait, and return the exit code (0 when the simulator shut down cleanly)."""
        if self.process is None:
            return 0
        process, self.process = self.process, None
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process.stdout:
            process.stdout.close()
        return process.returncode

    def close_log(self) -> None:
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def stderr_text(self) -> str:
        """What the simulator wrote to stderr so far (for failure messages)."""
        if self._stderr is None:
            return ""
        self._stderr.seek(0)
        return self._stderr.read().decode("utf-8", errors="replace")

    def restart(self) -> SimHandle:
        """Stop the process and start a new one on the same port with the same state file."""
        self.stop()
        return self.start()

    # --- clients ------------------------------------------------------------------------------
    def session(self, **kwargs: Any):
        """A pywinrm Session (plaintext or ssl with certificate validation off)."""
        import winrm  # noqa: PLC0415 -- optional, heavy: a test client; hvsim itself runs without pywinrm

        transport = "ssl" if self.tls else "plaintext"
        kwargs.setdefault("server_cert_validation", "ignore")
        return winrm.Session(self.url, auth=(self.user, self.password), transport=transport, **kwargs)

    def run_ps(self, script: str):
        return self.session().run_ps(script)

    # --- control API --------------------------------------------------------------------------
    def control(self, method: str, path: str, payload: dict[str, Any] | None = None) -> Any:
        base = self.url.rsplit("/wsman", 1)[0]
        data = json.dumps(payload).encode() if payload is not None else None
        request = urllib.request.Request(f"{base}/_hvsim/{path}", data=data, method=method)
        token = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
        request.add_header("Content-Type", "application/json")
        context = ssl._create_unverified_context() if self.tls else None  # noqa: S323 (self-signed test cert)
        try:
            with urllib.request.urlopen(request, timeout=30, context=context) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            raise SimulatorFailed(f"{method} /_hvsim/{path}: {error.code} {error.read().decode()}") from None

    def state(self) -> dict[str, Any]:
        return self.control("GET", "state")

    def faults(self) -> list[dict[str, Any]]:
        return self.control("GET", "faults")["faults"]

    def add_fault(self, kind: str, **rule: Any) -> int:
        return self.control("POST", "faults", {"kind": kind, **rule})["id"]

    def clear_faults(self) -> None:
        self.control("DELETE", "faults")

    def outage(self, seconds: float) -> None:
        self.control("POST", "outage", {"seconds": seconds})

    def reload(self, downtime_seconds: float = 0.0) -> None:
        """In-process restart: drop shells and reload the state file (POST /_hvsim/restart)."""
        self.control("POST", "restart", {"downtime_seconds": downtime_seconds})

    def guest_shutdown(self, vm: str) -> list[str]:
        return self.control("POST", f"vms/{urllib.parse.quote(vm, safe='')}/guest-shutdown")["shut_down"]


def _replace_port(argv: list[str], port: int) -> list[str]:
    result, skip = [], False
    for word in argv:
        if skip:
            skip = False
            continue
        if word == "--port":
            skip = True
            continue
        result.append(word)
    return [*result, "--port", str(port)]


def _read_line(process: subprocess.Popen, timeout: float) -> str:
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stdout], [], [], 0.1)
        if ready:
            return process.stdout.readline()
        if process.poll() is not None:
            return ""
    return ""


@contextlib.contextmanager
def run_simulator(**options: Any) -> Iterator[SimHandle]:
    """Start ``python -m workers.hyperv.simulator`` on a free port; stop it (SIGTERM) on exit."""
    options.setdefault("port", 0)
    user = options.setdefault("user", DEFAULT_USER)
    password = options.setdefault("password", DEFAULT_PASSWORD)
    with tempfile.TemporaryDirectory(prefix="hvsim-") as directory:
        state_file = options.setdefault("state_file", os.path.join(directory, "state.json"))
        handle = SimHandle(_arguments(options), user, password, state_file)
        handle.start()
        try:
            yield handle
        finally:
            handle.stop()
            handle.close_log()
