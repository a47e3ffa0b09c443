"""The errors every hypervisor driver raises (the real one, the fake, and any later one): the
``HypervisorError`` branch of Nestlab's one error family (``config.errors.NestlabError``).

Each class says whether retrying can help (``transient``). Task code retries transient errors
with backoff and fails the lab on permanent ones, storing ``host_message`` as the reason.
Messages carry what the host said, cleaned of CLIXML, and never a credential.
"""

from __future__ import annotations

from typing import ClassVar

from config.errors import NestlabError  # Django-free: the drivers import no Django model


class HypervisorError(NestlabError):
    """Base of all driver errors. ``host_message`` is the host's own words (or ours, if the
    driver refused before asking the host)."""

    transient: ClassVar[bool] = False

    def __init__(self, host_message: str, *, category: str | None = None, error_id: str | None = None) -> None:
        super().__init__(host_message)
        self.host_message = host_message
        self.category = category
        self.error_id = error_id

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.host_message!r})"


class NotFound(HypervisorError):
    """The VM, switch, checkpoint or file does not exist. Permanent."""


class InvalidState(HypervisorError):
    """The object exists but is in a state that forbids the operation (for example a running VM
    asked to expose virtualization extensions, or a switch that still has adapters). Permanent:
    the caller must change the state first."""


class InsufficientResources(HypervisorError):
    """The host lacks memory or disk for the operation. Transient: capacity may free up, and
    placement may choose another host."""

    transient = True


class AuthenticationFailed(HypervisorError):
    """The host rejected the credentials. Permanent, never retried (retries lock accounts)."""


class HostUnreachable(HypervisorError):
    """No usable answer from the host: connection refused or reset, DNS, HTTP timeout, or the
    WinRM service lost our shell (restart). Transient."""

    transient = True


class Timeout(HypervisorError):
    """The command did not finish within the call's wall-clock deadline; the driver terminated
    it. Transient: the host may only be slow, and every operation is safe to run again."""

    transient = True


class FileInUse(HypervisorError):
    """A file the operation must remove or change is held open by another process (a sharing
    violation), for example the checkpoint merge Hyper-V runs after Remove-VM. Transient: the
    holder lets go (docs/hyperv-real-host.md, section 5 item 2)."""

    transient = True


class CommandTooLong(HypervisorError):
    """The script would exceed the Windows command-line limit; it was never sent. Permanent (a
    bug or an oversized input)."""


class InvalidValue(HypervisorError, ValueError):
    """A name, path or number failed validation before reaching the host. Permanent."""


class HostError(HypervisorError):
    """Any other failure the host reported, including ambiguity the driver refuses to guess
    about (two VMs with the same name). Permanent."""
