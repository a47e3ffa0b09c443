"""WinRS shells and the commands running in them.

A command runs on its own thread from the moment it is created, so a Receive can be held until
there is output or the request's OperationTimeout runs out, exactly as a real host does.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field

from .execution import CommandOutcome, HostRuntime, run_command_line
from .wsman import WSManFault

IDLE_TIMEOUT_SECONDS = 7200  # WinRM's default shell IdleTimeOut
DEFAULT_MAX_SHELLS_PER_USER = 30  # WinRM's default MaxShellsPerUser (Windows Server 2012 and later)
MAX_SHELLS_CODE = 2150859174


def too_many_shells(limit: int) -> WSManFault:
    return WSManFault(
        MAX_SHELLS_CODE,
        f"The WS-Management service cannot process the request. This user is allowed a "
        f"maximum number of {limit} concurrent shells, which has been exceeded. Close "
        "existing shells or raise the quota for this user.",
        subcode="w:QuotaLimit",
        sender=True,
    )


@dataclass
class Command:
    id: str
    command_line: str
    cancelled: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)
    outcome: CommandOutcome | None = None
    stdout_sent: int = 0
    stderr_sent: int = 0

    def next_output(self, budget: int) -> tuple[bytes, bytes, bool]:
        """The next piece of output that fits in ``budget`` bytes, and whether it is the last.

        A real host never sends more than MaxEnvelopeSize in one answer: big output takes several
        Receives, the command reported Running until the last.
        """
        assert self.outcome is not None
        stdout = self.outcome.stdout[self.stdout_sent : self.stdout_sent + budget]
        self.stdout_sent += len(stdout)
        stderr = self.outcome.stderr[self.stderr_sent : self.stderr_sent + budget - len(stdout)]
        self.stderr_sent += len(stderr)
        finished = self.stdout_sent >= len(self.outcome.stdout) and self.stderr_sent >= len(self.outcome.stderr)
        return stdout, stderr, finished

    def start(self, runtime: HostRuntime, codepage: int) -> None:
        def run() -> None:
            try:
                self.outcome = run_command_line(runtime, self.command_line, codepage, self.cancelled)
            except Exception as error:  # a simulator bug must still answer the client
                message = f"hvsim internal error: {type(error).__name__}: {error}\r\n"
                self.outcome = CommandOutcome(b"", message.encode("utf-8", "replace"), 1)
            finally:
                self.done.set()

        threading.Thread(target=run, name=f"hvsim-command-{self.id[:8]}", daemon=True).start()


@dataclass
class Shell:
    id: str
    codepage: int
    commands: dict[str, Command] = field(default_factory=dict)
    last_used: float = field(default_factory=time.monotonic)


class ShellTable:
    """All open shells. Thread-safe."""

    def __init__(self, max_shells: int = DEFAULT_MAX_SHELLS_PER_USER) -> None:
        self.max_shells = max_shells
        self._lock = threading.Lock()
        self._shells: dict[str, Shell] = {}

    def create(self, codepage: int) -> Shell:
        """A new shell, unless the user already has ``max_shells`` open (WinRM's MaxShellsPerUser;
        the simulator has one user)."""
        shell = Shell(str(uuid.uuid4()).upper(), codepage)
        with self._lock:
            self._expire_idle()
            if len(self._shells) >= self.max_shells:
                raise too_many_shells(self.max_shells)
            self._shells[shell.id] = shell
        return shell

    def get(self, shell_id: str | None) -> Shell | None:
        with self._lock:
            shell = self._shells.get((shell_id or "").upper())
            if shell is not None:
                shell.last_used = time.monotonic()
            return shell

    def delete(self, shell_id: str) -> Shell | None:
        with self._lock:
            shell = self._shells.pop(shell_id.upper(), None)
        if shell is not None:
            for command in shell.commands.values():
                command.cancelled.set()
        return shell

    def clear(self) -> None:
        with self._lock:
            shells, self._shells = list(self._shells.values()), {}
        for shell in shells:
            for command in shell.commands.values():
                command.cancelled.set()

    def __len__(self) -> int:
        with self._lock:
            return len(self._shells)

    def _expire_idle(self) -> None:
        limit = time.monotonic() - IDLE_TIMEOUT_SECONDS
        for shell_id in [s.id for s in self._shells.values() if s.last_used < limit]:
            for command in self._shells.pop(shell_id).commands.values():
                command.cancelled.set()
