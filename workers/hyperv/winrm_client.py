"""Run PowerShell scripts on a host through pywinrm, within a wall-clock deadline.

pywinrm's ``Session.run_ps`` retries the WS-Management operation timeout forever, so a hung
cmdlet hangs the worker. ``WinRMClient`` drives ``winrm.Protocol`` itself: open a shell (UTF-8
code page), run ``powershell -encodedcommand``, poll Receive until Done or the deadline, signal
terminate, close the shell. Every failure becomes a ``HypervisorError``; stderr CLIXML becomes the
error's ``host_message``. ``round_trips`` counts SOAP requests, for benchmarks.

Not thread-safe: one client per worker thread.
"""

from __future__ import annotations

import json
import math
import re
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import requests
from spnego.exceptions import SpnegoError  # pywinrm -> requests_ntlm -> pyspnego
from winrm.exceptions import (
    AuthenticationError,
    WinRMError,
    WinRMOperationTimeoutError,
    WinRMTransportError,
    WSManFaultError,
)
from winrm.protocol import Protocol

from workers.hyperv.errors import (
    AuthenticationFailed,
    CommandTooLong,
    FileInUse,
    HostError,
    HostUnreachable,
    HypervisorError,
    InsufficientResources,
    InvalidState,
    InvalidValue,
    NotFound,
    Timeout,
)
from workers.hyperv.interface import ConnectionSpec
from workers.hyperv.powershell import check_length, encoded_command

UTF8_CODEPAGE = 65001
#: A Receive is held by the host at most this long before it answers "still running".
MAX_RECEIVE_WAIT_S = 20
#: HTTP read timeout beyond the Receive wait (pywinrm requires read > operation timeout).
READ_TIMEOUT_SLACK_S = 10
#: Time allowed for terminating a command and closing its shell after the deadline.
CLEANUP_TIMEOUT_S = 5
#: Lines a script prints before its JSON to report each step it performed.
STEP_MARKER = "nestlab-step:"
#: WS-Management fault: the shell is gone (the WinRM service restarted, or the shell expired).
WSMAN_SHELL_NOT_FOUND = 2150858843

#: powershell.exe over WinRM wraps error lines at this width (then adds a space).
CONSOLE_WIDTH = 78
CONSOLE_CONTINUATION = "   "
_CLIXML_HEADER = "#< CLIXML"
_XML_ESCAPE_RE = re.compile(r"_x([0-9A-Fa-f]{4})_")


@dataclass(frozen=True)
class HostErrorRecord:
    """One error record read from stderr: its message and, when present, the CategoryInfo and
    FullyQualifiedErrorId lines."""

    message: str
    category: str | None = None
    error_id: str | None = None


def _unescape_clixml(text: str) -> str:
    """Decode ``_xHHHH_`` escapes; characters beyond the BMP arrive as two escaped surrogates."""
    decoded = _XML_ESCAPE_RE.sub(lambda match: chr(int(match.group(1), 16)), text)
    return decoded.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def parse_clixml(stderr: str) -> list[str]:
    """Return the text of every error-stream record in a CLIXML stderr, ``_xHHHH_`` escapes
    decoded. Non-CLIXML stderr comes back as one item; warnings, progress and verbose records
    are dropped."""
    if _CLIXML_HEADER not in stderr:
        return [stderr.strip()] if stderr.strip() else []
    errors: list[str] = []
    for chunk in stderr.split(_CLIXML_HEADER):
        document = chunk.strip()
        if not document:
            continue
        try:
            root = ET.fromstring(document)
        except ET.ParseError:
            errors.append(document)
            continue
        for element in root.iter():
            if element.tag.rsplit("}", 1)[-1] == "S" and element.get("S", "").lower() == "error" and element.text:
                errors.append(_unescape_clixml(element.text))
    return ["".join(errors)] if errors else []


def unwrap_console_lines(text: str) -> list[str]:
    """Undo the host's console wrapping: powershell.exe over WinRM breaks lines at 78 characters,
    ends the piece with one space and indents the rest by three (see data/winrm-recorded)."""
    lines: list[str] = []
    wrapped = False
    for line in text.replace("\r\n", "\n").split("\n"):
        if wrapped and line.startswith(CONSOLE_CONTINUATION):
            lines[-1] = lines[-1][:-1] + line[len(CONSOLE_CONTINUATION) :]
        else:
            lines.append(line)
        wrapped = len(line) == CONSOLE_WIDTH + 1 and line.endswith(" ")
    return lines


def error_record(stderr: str) -> HostErrorRecord | None:
    """The host's error from stderr, split into message, category and error id, or None if
    stderr holds no error. Script positions ("At line:", "+ ...") are dropped."""
    texts = parse_clixml(stderr)
    if not texts:
        return None
    sections: dict[str, str] = {"message": "", "category": "", "error_id": ""}
    current = "message"
    for line in (line.strip() for line in unwrap_console_lines(texts[0])):
        if line.startswith("+ CategoryInfo"):
            current, line = "category", line.split(":", 1)[-1].strip()
        elif line.startswith("+ FullyQualifiedErrorId"):
            current, line = "error_id", line.split(":", 1)[-1].strip()
        elif re.match(r"At (line|.*):\d+ char:\d+", line):
            current = "position"
        elif current == "position" and line.startswith("+"):
            continue
        else:
            current = "message"
        if current != "position" and line:
            sections[current] += (" " if sections[current] else "") + line
    return HostErrorRecord(
        sections["message"] or texts[0].strip(), sections["category"] or None, sections["error_id"] or None
    )


#: Host texts (docs/hyperv.md "Errors a host returns") and our scripts' own refusals, by error.
_MESSAGE_RULES: tuple[tuple[re.Pattern[str], type[HypervisorError]], ...] = (
    (re.compile(r"command line is too long", re.I), CommandTooLong),
    # A missing cmdlet (role or module not installed) is a broken host, not a missing object.
    (re.compile(r"is not recognized as the name of a cmdlet", re.I), HostError),
    # A sharing violation (Win32 ERROR_SHARING_VIOLATION, 32): the holder lets go in time.
    (re.compile(r"being used by another process|0x80070020", re.I), FileInUse),
    (re.compile(r"unable to find|cannot find (the )?(file|path|any)|does not exist|was not found", re.I), NotFound),
    (
        re.compile(r"while the virtual machine is in its current state|invalid state|still has \d+ connected", re.I),
        InvalidState,
    ),
    (re.compile(r"not tagged by nestlab|belongs to (another|something)", re.I), InvalidState),
    (re.compile(r"needs an access VLAN", re.I), InvalidValue),
    (
        re.compile(r"not enough memory|ran out of memory|0x8007000E|not enough space on the disk|0x80070070", re.I),
        InsufficientResources,
    ),
    # Start-VM when the host cannot give the VM its memory, older and newer wording
    # (hyperv-real-host.md section 5 item 7, [S20]): retry on another host, not permanent.
    (
        re.compile(r"insufficient system resources|0x800705AA|(could not|unable to) allocate \d+ MB", re.I),
        InsufficientResources,
    ),
)
#: Windows error codes in a message read the same in every language (hyperv-real-host.md
#: section 5 items 7 and 8): out of memory, insufficient system resources, disk full.
_CODE_RULE = (re.compile(r"0x8007000E|0x800705AA|0x80070070", re.I), InsufficientResources)
#: Get-VM's own "no VM of that name" (docs/hyperv.md "Errors a host returns"): the only
#: InvalidArgument that means not found (hyperv-real-host.md section 5 item 7).
GET_VM_NOT_FOUND_ID = "InvalidParameter,Microsoft.HyperV.PowerShell.Commands.GetVM"
_CATEGORY_RULES: tuple[tuple[str, type[HypervisorError]], ...] = (
    ("ObjectNotFound", NotFound),
    ("ResourceUnavailable", InsufficientResources),
    ("InvalidOperation", InvalidState),
    ("InvalidArgument", HostError),
)


def _by_category_and_id(record: HostErrorRecord) -> type[HypervisorError] | None:
    """The error class that the record's category and error id decide, whatever the host's
    language (hyperv-real-host.md section 5 item 8), or None when they decide nothing."""
    category = record.category or ""
    error_id = record.error_id or ""
    if "CommandNotFoundException" in category or error_id.startswith("CommandNotFoundException"):
        return HostError  # a missing cmdlet (role or module not installed) is a broken host
    if error_id.split(" ")[0] == GET_VM_NOT_FOUND_ID:
        return NotFound
    if error_id.split(",")[0] == "OutOfMemory":  # Start-VM: FromStdErr / OutOfMemory [S20]
        return InsufficientResources
    if error_id.split(",")[0] == "RemoveFileSystemItemIOError":  # a sharing violation: files held
        return FileInUse
    if _CODE_RULE[0].search(record.message):
        return _CODE_RULE[1]
    for prefix, error_class in _CATEGORY_RULES:
        if category.startswith(prefix):
            return error_class
    return None


def error_from_stderr(stderr: str, exit_code: int) -> HypervisorError:
    """Map a failed script's stderr to the matching error class (HostError if nothing matches):
    by the record's category and error id first, which do not depend on the host's language;
    by the English texts (and our scripts' own refusals) only when those decide nothing."""
    record = error_record(stderr) or HostErrorRecord(f"the script failed with exit code {exit_code} and no error text")
    own = record.message.lower().startswith("nestlab:")
    error_class = None if own else _by_category_and_id(record)
    if error_class is None:
        error_class = next((cls for pattern, cls in _MESSAGE_RULES if pattern.search(record.message)), HostError)
    return error_class(record.message, category=record.category, error_id=record.error_id)


@dataclass(frozen=True)
class ScriptOutput:
    steps: list[str]
    payload: Any


def parse_stdout(stdout: str, *, with_payload: bool = True) -> ScriptOutput:
    """Split stdout into step markers and the JSON payload (the remaining text). A failed
    script's partial output is read for its steps only (``with_payload=False``)."""
    steps: list[str] = []
    payload_lines: list[str] = []
    for line in stdout.lstrip("\ufeff").splitlines():
        if line.startswith(STEP_MARKER):
            steps.append(line[len(STEP_MARKER) :].strip())
        elif line.strip():
            payload_lines.append(line)
    if not payload_lines or not with_payload:
        return ScriptOutput(steps, None)
    try:
        return ScriptOutput(steps, json.loads("\n".join(payload_lines)))
    except json.JSONDecodeError:
        raise HostError("the host answered with output that is not JSON: " + "\n".join(payload_lines)[:300])


class _CountingProtocol(Protocol):
    """``winrm.Protocol`` that counts SOAP requests."""

    round_trips = 0

    def send_message(self, message: str) -> bytes:
        self.round_trips += 1
        return super().send_message(message)


class WinRMClient:
    """Runs scripts on one host. Use ``with client.shell():`` to run several scripts of one
    operation in a single WinRM shell; ``run_script`` outside it opens and closes its own."""

    def __init__(self, conn: ConnectionSpec) -> None:
        self.conn = conn
        self._protocol = _CountingProtocol(
            conn.url,
            transport=conn.transport,
            username=conn.username,
            password=conn.password,
            server_cert_validation="validate" if conn.verify_tls else "ignore",
            ca_trust_path=conn.ca_bundle,
            read_timeout_sec=MAX_RECEIVE_WAIT_S + READ_TIMEOUT_SLACK_S,
            operation_timeout_sec=MAX_RECEIVE_WAIT_S,
            proxy=None,
        )
        self._shell_id: str | None = None
        self._authenticated = False  # a call has gone through on the current session
        self.scripts_run = 0

    def __repr__(self) -> str:
        return f"WinRMClient({self.conn!r})"

    @property
    def round_trips(self) -> int:
        """SOAP requests sent so far (each is one HTTP round trip)."""
        return self._protocol.round_trips

    @contextmanager
    def shell(self) -> Iterator[None]:
        """Keep one WinRM shell open for the scripts run inside the block."""
        if self._shell_id is not None:
            yield
            return
        deadline = time.monotonic() + self.conn.call_deadline_s
        self._shell_id = self._call(self._protocol.open_shell, deadline, codepage=UTF8_CODEPAGE, noprofile=True)
        try:
            yield
        finally:
            shell_id, self._shell_id = self._shell_id, None
            self._close_shell(shell_id)

    def run_script(
        self,
        script: str,
        *,
        deadline_s: float | None = None,
        on_step: Callable[[str], None] | None = None,
    ) -> Any:
        """Run one PowerShell script and return its parsed JSON output (None if it printed
        nothing). ``on_step`` gets each step marker the script printed, also when it failed.

        Raises CommandTooLong before sending, Timeout when ``deadline_s`` (default: the
        connection's call deadline) passes, and the mapped HypervisorError on failure.
        """
        check_length(script)
        seconds = self.conn.call_deadline_s if deadline_s is None else deadline_s
        deadline = time.monotonic() + seconds
        with self.shell():
            stdout, stderr, exit_code = self._execute(self._shell_id, encoded_command(script), deadline, seconds)
        self.scripts_run += 1
        text = stdout.decode("utf-8", errors="replace")
        errors = stderr.decode("utf-8", errors="replace")
        output = parse_stdout(text, with_payload=exit_code == 0)
        if on_step is not None:
            for step in output.steps:
                on_step(step)
        if exit_code != 0:
            raise error_from_stderr(errors, exit_code)
        return output.payload

    def _execute(self, shell_id: str, command: str, deadline: float, seconds: float) -> tuple[bytes, bytes, int]:
        command_id = self._call(self._protocol.run_command, deadline, shell_id, command)
        stdout: list[bytes] = []
        stderr: list[bytes] = []
        while True:
            if time.monotonic() >= deadline:
                self._terminate(shell_id, command_id)
                raise Timeout(f"the command did not finish within {seconds:g} s; it was terminated")
            try:
                out, err, exit_code, done = self._call(
                    self._protocol.get_command_output_raw, deadline, shell_id, command_id
                )
            except WinRMOperationTimeoutError:
                continue
            stdout.append(out)
            stderr.append(err)
            if done:
                self._call(self._protocol.cleanup_command, deadline, shell_id, command_id)
                return b"".join(stdout), b"".join(stderr), exit_code

    def _limit_waits(self, seconds: float) -> None:
        """Make the next request's WS-Management wait, and its HTTP read timeout, fit in
        ``seconds`` (pywinrm needs the read timeout above the operation timeout)."""
        wait = min(MAX_RECEIVE_WAIT_S, max(1, math.ceil(seconds)))
        self._protocol.operation_timeout_sec = wait
        self._protocol.transport.read_timeout_sec = wait + READ_TIMEOUT_SLACK_S

    def _terminate(self, shell_id: str, command_id: str) -> None:
        """Best effort after a deadline: a host that does not answer must not extend it."""
        self._limit_waits(1)
        self._protocol.transport.read_timeout_sec = CLEANUP_TIMEOUT_S
        try:
            self._protocol.cleanup_command(shell_id, command_id)
        except Exception:  # noqa: BLE001 - the Timeout being raised is the error that matters
            pass

    def _close_shell(self, shell_id: str) -> None:
        self._limit_waits(1)
        self._protocol.transport.read_timeout_sec = CLEANUP_TIMEOUT_S
        try:
            self._protocol.close_shell(shell_id, close_session=False)
        except Exception:  # noqa: BLE001 - the shell expires on the host by itself
            self._protocol.transport.close_session()

    def _build_session(self) -> None:
        """Make pywinrm's HTTP session on first use. With message encryption (NTLM over HTTP)
        this is the authentication handshake, so it runs inside ``_call``'s error mapping."""
        transport = self._protocol.transport
        if getattr(transport, "session", None) is None:
            session = transport.build_session()
            # pywinrm already settled the proxy question (none unless configured); without this,
            # requests re-reads the proxy environment on every message, a few ms of CPU per lab.
            session.trust_env = False

    def _call(self, method: Callable[..., Any], deadline: float, *args: Any, **kwargs: Any) -> Any:
        """Call one pywinrm method within what is left of ``deadline``, turning its exceptions
        into HypervisorErrors.

        With message encryption the security context belongs to the TCP connection: when the
        host lost it (WinRM restarted, the connection dropped), pywinrm authenticates again on a
        new connection but re-sends the body sealed with the old context, which the host cannot
        read and answers 401. The host never ran that message, so after a session that had
        worked, the call is made once more on a fresh session."""
        try:
            answer = self._call_once(method, deadline, *args, **kwargs)
        except AuthenticationFailed:
            if not self._authenticated or getattr(self._protocol.transport, "encryption", None) is None:
                raise
            self._authenticated = False
            self._protocol.transport.close_session()
            answer = self._call_once(method, deadline, *args, **kwargs)
        self._authenticated = True
        return answer

    def _call_once(self, method: Callable[..., Any], deadline: float, *args: Any, **kwargs: Any) -> Any:
        self._limit_waits(deadline - time.monotonic())
        try:
            self._build_session()
            return method(*args, **kwargs)
        except WinRMOperationTimeoutError:
            raise
        except AuthenticationError:
            raise AuthenticationFailed(f"the host rejected the credentials of {self.conn.username!r}")
        except SpnegoError as error:
            # NTLM, Kerberos and CredSSP fail inside the security-context exchange, not with a
            # 401 (pywinrm issue #235): the credentials (or the account) are not accepted.
            raise AuthenticationFailed(
                f"authentication of {self.conn.username!r} failed: {type(error).__name__}: {error}"[:300]
            )
        except requests.exceptions.SSLError as error:
            raise HostError(f"TLS with {self.conn.url} failed: {_reason(error)}")
        except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as error:
            raise HostUnreachable(f"{self.conn.url} did not answer: {_reason(error)}")
        except WSManFaultError as error:
            if error.wsman_fault_code == WSMAN_SHELL_NOT_FOUND:
                raise HostUnreachable(f"the WinRM service lost the shell (restarted?): {error.reason}")
            raise HostError(f"WS-Management fault: {error.reason}")
        except WinRMTransportError as error:
            if error.code >= 500:
                raise HostUnreachable(f"{self.conn.url} answered HTTP {error.code}")
            raise HostError(f"{self.conn.url} answered HTTP {error.code}")
        except WinRMError as error:
            raise HostError(f"WinRM client error: {error}")


def _reason(error: Exception) -> str:
    """The innermost reason of a requests error, short and without URLs' credentials."""
    reason = error
    while reason.__context__ is not None and reason.__context__ is not reason:
        reason = reason.__context__
    return (type(reason).__name__ + ": " + str(reason))[:200]
