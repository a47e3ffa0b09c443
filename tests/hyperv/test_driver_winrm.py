"""The WinRM client without a network: CLIXML, error mapping, output parsing, the deadline loop,
exception mapping and round-trip counting (pywinrm's Protocol replaced by a scripted stub)."""

from __future__ import annotations

import base64
import re
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import requests
from spnego.exceptions import InvalidCredentialError
from winrm.exceptions import InvalidCredentialsError, WinRMOperationTimeoutError, WinRMTransportError, WSManFaultError

from workers.hyperv.errors import (
    AuthenticationFailed,
    CommandTooLong,
    FileInUse,
    HostError,
    HostUnreachable,
    InsufficientResources,
    InvalidState,
    NotFound,
    Timeout,
)
from workers.hyperv.interface import ConnectionSpec
from workers.hyperv.winrm_client import (
    WinRMClient,
    error_from_stderr,
    error_record,
    parse_clixml,
    parse_stdout,
)

RECORDED = Path("/work/shared/data/winrm-recorded")
PASSWORD = "S3cret-Pa55word!"


def clixml(*lines: str) -> str:
    body = "".join(f'<S S="Error">{line}_x000D__x000A_</S>' for line in lines)
    header = '#< CLIXML\r\n<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">'
    return header + body + "</Objs>"


NOT_FOUND = clixml(
    'Get-VM : Hyper-V was unable to find a virtual machine with name "lab-9".',
    "At line:3 char:5",
    "+ $v=@(Get-VM -Name $Name)",
    "+     ~~~~~~~~~~~~~~~~~~~~",
    "    + CategoryInfo          : InvalidArgument: (lab-9:String) [Get-VM], VirtualizationException",
    "    + FullyQualifiedErrorId : InvalidParameter,Microsoft.HyperV.PowerShell.Commands.GetVM",
)


def recorded_stderr() -> str:
    root = ET.parse(RECORDED / "get_ps_output_response.xml").getroot()
    chunks = [
        base64.b64decode(node.text)
        for node in root.iter()
        if node.tag.endswith("Stream") and node.get("Name") == "stderr" and node.text
    ]
    return b"".join(chunks).decode("utf-8")


def test_recorded_clixml_from_a_real_host_is_read():
    texts = parse_clixml(recorded_stderr())
    assert texts and texts[0].startswith('Write-Error "Error" : Error')
    record = error_record(recorded_stderr())
    assert record.message == 'Write-Error "Error" : Error'
    assert record.category.startswith("NotSpecified")


def test_a_cmdlet_error_is_split_into_message_category_and_id():
    record = error_record(NOT_FOUND)
    assert record.message == 'Get-VM : Hyper-V was unable to find a virtual machine with name "lab-9".'
    assert record.category.startswith("InvalidArgument")
    assert record.error_id == "InvalidParameter,Microsoft.HyperV.PowerShell.Commands.GetVM"


def test_non_ascii_text_and_escapes_survive():
    record = error_record(clixml("Get-VM : Übung _x0027_x_x0027_ fehlt"))
    assert record.message == "Get-VM : Übung 'x' fehlt"


def test_characters_beyond_the_bmp_arrive_as_escaped_surrogates():
    assert error_record(clixml("Set-VM : lab _xD83D__xDE00_ x")).message == "Set-VM : lab \U0001f600 x"


def test_warnings_and_progress_are_not_errors():
    stderr = (
        '#< CLIXML\r\n<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">'
        '<S S="warning">careful</S><Obj S="progress" RefId="0"><TN RefId="0"><T>x</T></TN></Obj></Objs>'
    )
    assert parse_clixml(stderr) == []
    assert error_record(stderr) is None


def test_plain_stderr_is_kept_as_is():
    assert error_record("The command line is too long.\r\n").message == "The command line is too long."


@pytest.mark.parametrize(
    ("stderr", "error_class"),
    [
        (NOT_FOUND, NotFound),
        (
            clixml("Stop-VM : The operation cannot be performed while the virtual machine is in its current state."),
            InvalidState,
        ),
        (
            clixml("Start-VM : Not enough memory in the system to start the virtual machine lab-1."),
            InsufficientResources,
        ),
        (clixml("Start-VM : Could not initialize memory: Ran out of memory (0x8007000E)."), InsufficientResources),
        ("The command line is too long.", CommandTooLong),
        (clixml("nestlab: 2 virtual machines are named lab-1; refusing to guess"), HostError),
        (clixml("nestlab: switch sw still has 2 connected virtual machine adapters; disconnect them"), InvalidState),
        (clixml("nestlab: VM lab-1 is not tagged by Nestlab; refusing to delete it"), InvalidState),
        (clixml("Something : odd", "    + CategoryInfo          : ObjectNotFound: (:) [], X"), NotFound),
        (clixml("New-VM : The virtual machine configuration version 11.0 is not supported."), HostError),
        (clixml("New-VHD : The system cannot find the file specified."), NotFound),
        (clixml("New-VHD : There is not enough space on the disk."), InsufficientResources),
        ("", HostError),
        # Newer out-of-memory text, and "insufficient system resources" (hyperv-real-host.md [S20]).
        (
            clixml(
                "Start-VM : 'lab-1' failed to start. Could not initialize memory: Not enough memory resources are "
                "available to complete this operation. (0x8007000E).",
                "    + CategoryInfo          : FromStdErr: (:) [Start-VM], VirtualizationException",
                "    + FullyQualifiedErrorId : OutOfMemory,Microsoft.HyperV.PowerShell.Commands.StartVM",
            ),
            InsufficientResources,
        ),
        (
            clixml(
                "Start-VM : Unable to allocate 2048 MB of RAM: Insufficient system resources exist to complete the "
                "requested service. (0x800705AA).",
                "    + CategoryInfo          : NotSpecified: (:) [Start-VM], VirtualizationException",
                "    + FullyQualifiedErrorId : Unspecified,Microsoft.HyperV.PowerShell.Commands.StartVM",
            ),
            InsufficientResources,
        ),
        # Not found by category and id whatever the language; InvalidArgument of another cmdlet is not.
        (
            clixml(
                'Get-VM : Hyper-V konnte keinen virtuellen Computer mit dem Namen "x" finden.',
                "    + CategoryInfo          : InvalidArgument: (x:String) [Get-VM], VirtualizationException",
                "    + FullyQualifiedErrorId : InvalidParameter,Microsoft.HyperV.PowerShell.Commands.GetVM",
            ),
            NotFound,
        ),
        (
            clixml(
                'New-VM : Hyper-V was unable to find a virtual switch with name "sw".',
                "    + CategoryInfo          : InvalidArgument: (sw:String) [New-VM], VirtualizationException",
                "    + FullyQualifiedErrorId : InvalidParameter,Microsoft.HyperV.PowerShell.Commands.NewVM",
            ),
            HostError,
        ),
        (
            clixml(
                "Stop-VM : Der Vorgang kann im aktuellen Zustand nicht ausgeführt werden.",
                "    + CategoryInfo          : InvalidOperation: (:) [Stop-VM], VirtualizationException",
                "    + FullyQualifiedErrorId : InvalidState,Microsoft.HyperV.PowerShell.Commands.StopVM",
            ),
            InvalidState,
        ),
        # a sharing violation while Remove-VM's merge holds the disk, on a German host: by id
        (
            clixml(
                "Remove-Item : Der Prozess kann nicht auf die Datei zugreifen, da sie von einem anderen Prozess "
                "verwendet wird.",
                "    + CategoryInfo          : WriteError: (C:\\Labs\\x.vhdx:FileInfo) [Remove-Item], IOException",
                "    + FullyQualifiedErrorId : RemoveFileSystemItemIOError,Microsoft.PowerShell.Commands."
                "RemoveItemCommand",
            ),
            FileInUse,
        ),
        (
            clixml(
                "Get-VMHost : The term 'Get-VMHost' is not recognized as the name of a cmdlet, function.",
                "    + CategoryInfo          : ObjectNotFound: (Get-VMHost:String) [], CommandNotFoundException",
            ),
            HostError,
        ),
    ],
)
def test_errors_map_by_the_documented_texts(stderr, error_class):
    error = error_from_stderr(stderr, 1)
    assert type(error) is error_class
    assert error.host_message
    assert "CLIXML" not in error.host_message and "<S" not in error.host_message


@pytest.mark.parametrize(
    ("error_class", "transient"),
    [
        (NotFound, False),
        (InvalidState, False),
        (InsufficientResources, True),
        (AuthenticationFailed, False),
        (HostUnreachable, True),
        (Timeout, True),
        (CommandTooLong, False),
        (HostError, False),
    ],
)
def test_each_error_says_whether_retrying_helps(error_class, transient):
    assert error_class.transient is transient
    assert error_class("x").transient is transient


def test_stdout_is_step_markers_then_json():
    output = parse_stdout('\ufeffnestlab-step:disk\r\nnestlab-step:vm\r\n"0b6f"\r\n')
    assert output.steps == ["disk", "vm"]
    assert output.payload == "0b6f"


def test_stdout_that_is_not_json_is_a_host_error():
    with pytest.raises(HostError, match="not JSON"):
        parse_stdout("Name State\n---- -----\n")


# --- the client against a scripted Protocol -----------------------------------------------------


def connection(**overrides) -> ConnectionSpec:
    values = dict(
        host_name="hv01",
        endpoint="127.0.0.1",
        port=5985,
        transport="plaintext",
        username="nestlab",
        password=PASSWORD,
        use_tls=False,
        allow_plaintext=True,
        call_deadline_s=30,
    )
    values.update(overrides)
    return ConnectionSpec(**values)


class ScriptedProtocol:
    """Stands in for winrm.Protocol: each Receive answers from ``receives`` in turn."""

    def __init__(self, receives, *, open_error=None):
        self.receives = list(receives)
        self.open_error = open_error
        self.calls: list[str] = []
        self.commands: list[str] = []
        self.operation_timeout_sec = 20
        self.round_trips = 0

        class _Transport:
            read_timeout_sec = 30
            session = "scripted"  # the HTTP session exists: nothing to build

            def close_session(self):
                pass

        self.transport = _Transport()

    def _count(self, name):
        self.calls.append(name)
        self.round_trips += 1

    def open_shell(self, **kwargs):
        self._count("open_shell")
        assert kwargs["codepage"] == 65001
        if self.open_error:
            raise self.open_error
        return "shell-1"

    def run_command(self, shell_id, command):
        self._count("run_command")
        self.commands.append(command)
        return "cmd-1"

    def get_command_output_raw(self, shell_id, command_id):
        self._count("receive")
        answer = self.receives.pop(0) if len(self.receives) > 1 else self.receives[0]
        if isinstance(answer, BaseException):
            raise answer
        if callable(answer):
            return answer()
        return answer

    def cleanup_command(self, shell_id, command_id):
        self._count("cleanup_command")

    def close_shell(self, shell_id, close_session=True):
        self._count("close_shell")


def client_with(protocol: ScriptedProtocol, **overrides) -> WinRMClient:
    client = WinRMClient(connection(**overrides))
    client._protocol = protocol
    return client


SCRIPT = "$x=1\nConvertTo-Json -InputObject $x -Compress\n"


def test_a_script_runs_in_one_shell_and_returns_json():
    protocol = ScriptedProtocol([(b"", b"", -1, False), (b'{"a":1}\r\n', b"", 0, True)])
    client = client_with(protocol)
    assert client.run_script(SCRIPT) == {"a": 1}
    assert protocol.calls == ["open_shell", "run_command", "receive", "receive", "cleanup_command", "close_shell"]
    assert protocol.commands[0].startswith("powershell -NoProfile -NonInteractive -EncodedCommand ")
    assert client.round_trips == 6 and client.scripts_run == 1


def test_scripts_in_one_shell_block_share_the_shell():
    protocol = ScriptedProtocol([(b"1", b"", 0, True)])
    client = client_with(protocol)
    with client.shell():
        client.run_script(SCRIPT)
        client.run_script(SCRIPT)
    assert protocol.calls.count("open_shell") == 1 and protocol.calls.count("close_shell") == 1


def test_the_operation_timeout_is_polled_again_until_done():
    protocol = ScriptedProtocol([WinRMOperationTimeoutError(), WinRMOperationTimeoutError(), (b"2", b"", 0, True)])
    assert client_with(protocol).run_script(SCRIPT) == 2


def test_a_hung_command_is_cut_at_the_deadline_and_terminated():
    def slow_timeout():
        time.sleep(0.05)
        raise WinRMOperationTimeoutError()

    protocol = ScriptedProtocol([slow_timeout])
    client = client_with(protocol, call_deadline_s=0.3)
    started = time.monotonic()
    with pytest.raises(Timeout, match="terminated"):
        client.run_script(SCRIPT)
    assert time.monotonic() - started < 1.0
    assert protocol.calls[-2:] == ["cleanup_command", "close_shell"]


def test_the_receive_wait_never_exceeds_what_is_left_of_the_deadline():
    waits = []
    protocol = ScriptedProtocol([])

    def record():
        waits.append((protocol.operation_timeout_sec, protocol.transport.read_timeout_sec))
        return (b"1", b"", 0, True)

    protocol.receives = [record]
    client_with(protocol, call_deadline_s=3).run_script(SCRIPT)
    assert waits == [(3, 13)]


def test_a_failed_script_raises_the_mapped_error_and_still_reports_its_steps():
    stdout = b"nestlab-step:disk\r\nnestlab-step:vm\r\n"
    protocol = ScriptedProtocol([(stdout, NOT_FOUND.encode(), 1, True)])
    steps = []
    with pytest.raises(NotFound, match="unable to find"):
        client_with(protocol).run_script(SCRIPT, on_step=steps.append)
    assert steps == ["disk", "vm"]


def test_a_script_over_the_limit_is_never_sent():
    protocol = ScriptedProtocol([(b"1", b"", 0, True)])
    with pytest.raises(CommandTooLong):
        client_with(protocol).run_script("x" * 4000)
    assert protocol.calls == []


def test_wrong_credentials_fail_once_and_permanently():
    protocol = ScriptedProtocol([], open_error=InvalidCredentialsError("the specified credentials were rejected"))
    with pytest.raises(AuthenticationFailed) as caught:
        client_with(protocol).run_script(SCRIPT)
    assert caught.value.transient is False
    assert protocol.calls == ["open_shell"]
    assert PASSWORD not in str(caught.value) and PASSWORD not in repr(caught.value)


@pytest.mark.parametrize(
    ("raised", "error_class"),
    [
        (InvalidCredentialError(context_msg="logon failure"), AuthenticationFailed),
        (requests.exceptions.ConnectionError("refused"), HostUnreachable),
        (requests.exceptions.ReadTimeout("read timed out"), HostUnreachable),
        (requests.exceptions.SSLError("certificate verify failed"), HostError),
        (WinRMTransportError("http", 503, ""), HostUnreachable),
        (WinRMTransportError("http", 400, ""), HostError),
        (WSManFaultError(500, "m", "", "shell not found", wsman_fault_code=2150858843), HostUnreachable),
        (WSManFaultError(500, "m", "", "access denied", wsman_fault_code=5), HostError),
    ],
)
def test_transport_failures_become_typed_errors(raised, error_class):
    protocol = ScriptedProtocol([], open_error=raised)
    with pytest.raises(error_class):
        client_with(protocol).run_script(SCRIPT)


def test_the_real_protocol_counts_soap_requests_and_dead_ports_are_unreachable():
    # Port 9 (discard) on localhost is closed: a real pywinrm request fails to connect.
    client = WinRMClient(connection(port=9, call_deadline_s=5))
    with pytest.raises(HostUnreachable) as caught:
        client.run_script(SCRIPT)
    assert client.round_trips == 1
    assert caught.value.transient is True


def test_no_repr_shows_the_password():
    conn = connection()
    client = WinRMClient(conn)
    for text in (repr(conn), str(conn), repr(client)):
        assert PASSWORD not in text
        assert "***" in text
    assert re.search(r"password='\*\*\*'", repr(conn))


def console_wrapped(line: str) -> list[str]:
    """Wrap like powershell.exe over WinRM: 78 characters and a space, then 3-space indents."""
    pieces = [line[:78] + " "]
    rest = line[78:]
    while len(rest) > 75:
        pieces.append("   " + rest[:75] + " ")
        rest = rest[75:]
    return pieces + ["   " + rest]


@pytest.mark.parametrize("cut_at_a_space", [True, False])
def test_a_message_wrapped_at_the_console_width_is_joined_back(cut_at_a_space):
    message = "Set-VMProcessor : The operation cannot be performed while the virtual machine is in its current state."
    if not cut_at_a_space:
        message = message.replace("machine is", "machine--is")
    category = "    + CategoryInfo          : InvalidOperation: (:) [Set-VMProcessor], VirtualizationException"
    stderr = clixml(*console_wrapped(message), *console_wrapped(category))
    error = error_from_stderr(stderr, 1)
    assert type(error) is InvalidState
    assert error.host_message == message
    assert error.category == "InvalidOperation: (:) [Set-VMProcessor], VirtualizationException"


@pytest.mark.parametrize("endpoint", ["", "hv01/wsman", "user@hv01", "hv01:5985", "-hv01"])
def test_endpoints_are_plain_host_names(endpoint):
    from workers.hyperv.errors import InvalidValue

    with pytest.raises(InvalidValue):
        connection(endpoint=endpoint)


@pytest.mark.parametrize(
    "overrides",
    [
        {"transport": "plaintext", "allow_plaintext": False},
        {"transport": "plaintext", "use_tls": True},
        {"transport": "ssl", "use_tls": False, "allow_plaintext": False},
        {"transport": "basic"},
        {"port": 0},
        {"call_deadline_s": 0},
    ],
)
def test_unsafe_or_impossible_connections_are_refused(overrides):
    from workers.hyperv.errors import InvalidValue

    with pytest.raises(InvalidValue):
        connection(**overrides)


def test_certificate_validation_is_on_by_default_and_takes_a_ca_bundle():
    conn = ConnectionSpec(
        host_name="hv01", endpoint="hv01.example", port=5986, transport="ssl", username="u", password="p", use_tls=True
    )
    assert conn.verify_tls is True and conn.url == "https://hv01.example:5986/wsman"
    transport = WinRMClient(conn)._protocol.transport
    assert transport.server_cert_validation == "validate" and transport.ca_trust_path is None
    bundled = WinRMClient(connection(transport="ssl", use_tls=True, allow_plaintext=False, ca_bundle="/etc/ca.pem"))
    assert bundled._protocol.transport.ca_trust_path == "/etc/ca.pem"
