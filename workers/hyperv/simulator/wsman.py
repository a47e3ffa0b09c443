"""WS-Management SOAP: reading the requests pywinrm and pypsrp send, and writing answers shaped
like a real Windows host's (see shared/data/winrm-recorded/)."""

from __future__ import annotations

import base64
import re
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from xml.sax.saxutils import escape, quoteattr

NS = {
    "s": "http://www.w3.org/2003/05/soap-envelope",
    "a": "http://schemas.xmlsoap.org/ws/2004/08/addressing",
    "w": "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd",
    "p": "http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd",
    "x": "http://schemas.xmlsoap.org/ws/2004/09/transfer",
    "rsp": "http://schemas.microsoft.com/wbem/wsman/1/windows/shell",
    "f": "http://schemas.microsoft.com/wbem/wsman/1/wsmanfault",
}
SHELL_URI = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell"
CMD_RESOURCE_URI = f"{SHELL_URI}/cmd"
INVALID_RESOURCE_URI_CODE = 2150858752
ACTIONS = {
    "http://schemas.xmlsoap.org/ws/2004/09/transfer/Create": "Create",
    "http://schemas.xmlsoap.org/ws/2004/09/transfer/Delete": "Delete",
    f"{SHELL_URI}/Command": "Command",
    f"{SHELL_URI}/Receive": "Receive",
    f"{SHELL_URI}/Signal": "Signal",
    f"{SHELL_URI}/Send": "Send",
}
DONE = f"{SHELL_URI}/CommandState/Done"
RUNNING = f"{SHELL_URI}/CommandState/Running"
TIMED_OUT_CODE = 2150858793
TIMED_OUT_TEXT = (
    "The WS-Management service cannot complete the operation within the time specified in OperationTimeout."
)
SHELL_NOT_FOUND_CODE = 2150858843
DEFAULT_MAX_ENVELOPE_SIZE = 153600  # bytes; WinRM's default, and what pywinrm asks for
_DURATION = re.compile(r"P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:([\d.]+)S)?)?")


class WSManFault(Exception):
    """A SOAP fault, sent with HTTP 500."""

    def __init__(self, code: int, reason: str, *, subcode: str = "w:InternalError", sender: bool = False):
        super().__init__(reason)
        self.code = code
        self.reason = reason
        self.subcode = subcode
        self.sender = sender


def shell_not_found(shell_id: str) -> WSManFault:
    return WSManFault(
        SHELL_NOT_FOUND_CODE,
        f"The request for the Windows Remote Shell with ShellId {shell_id} failed "
        "because the shell was not found on the server. Possible causes are: the "
        "specified ShellId is incorrect or the shell no longer exists on the "
        "server. Provide the correct ShellId or create a new shell and retry the "
        "operation.",
        subcode="w:InvalidSelectors",
        sender=True,
    )


@dataclass
class Request:
    action: str  # Create | Command | Receive | Signal | Delete | Send (or the raw URI if unknown)
    action_uri: str
    message_id: str
    shell_id: str | None
    operation_timeout: float
    body: ET.Element
    options: dict[str, str] = field(default_factory=dict)
    max_envelope_size: int = DEFAULT_MAX_ENVELOPE_SIZE
    resource_uri: str = CMD_RESOURCE_URI


def parse_duration(text: str | None, default: float = 60.0) -> float:
    match = _DURATION.fullmatch((text or "").strip())
    if not match or not any(match.groups()):
        return default
    days, hours, minutes, seconds = match.groups()
    return int(days or 0) * 86400 + int(hours or 0) * 3600 + int(minutes or 0) * 60 + float(seconds or 0)


def parse_request(data: bytes) -> Request:
    try:
        root = ET.fromstring(data)
    except ET.ParseError as error:
        raise WSManFault(
            2150858817,
            f"The WS-Management service cannot process the request because the XML is invalid: {error}.",
            subcode="w:SchemaValidationError",
            sender=True,
        )
    header = root.find("s:Header", NS)
    body = root.find("s:Body", NS)
    if header is None or body is None:
        raise WSManFault(
            2150858817,
            "The WS-Management service cannot process the request because the SOAP envelope has no header or body.",
            subcode="w:SchemaValidationError",
            sender=True,
        )
    action_uri = (header.findtext("a:Action", "", NS) or "").strip()
    selector = header.find("w:SelectorSet/w:Selector[@Name='ShellId']", NS)
    options = {option.get("Name", ""): (option.text or "") for option in header.findall("w:OptionSet/w:Option", NS)}
    return Request(
        action=ACTIONS.get(action_uri, action_uri),
        action_uri=action_uri,
        message_id=(header.findtext("a:MessageID", "", NS) or ""),  # verbatim: pypsrp compares exact strings
        shell_id=selector.text.strip() if selector is not None and selector.text else None,
        operation_timeout=parse_duration(header.findtext("w:OperationTimeout", None, NS)),
        body=body,
        options=options,
        max_envelope_size=_integer(header.findtext("w:MaxEnvelopeSize", None, NS), DEFAULT_MAX_ENVELOPE_SIZE),
        resource_uri=(header.findtext("w:ResourceURI", "", NS) or CMD_RESOURCE_URI).strip(),
    )


def _integer(text: str | None, default: int) -> int:
    try:
        return int((text or "").strip())
    except ValueError:
        return default


def command_line(request: Request) -> tuple[str, str | None]:
    """The command text (Command plus its Arguments, joined by spaces) and a client-chosen CommandId."""
    element = request.body.find("rsp:CommandLine", NS)
    if element is None:
        raise WSManFault(
            2150858817,
            "The WS-Management service cannot process the request because the CommandLine element is missing.",
            subcode="w:SchemaValidationError",
            sender=True,
        )
    command = element.findtext("rsp:Command", "", NS) or ""
    arguments = [argument.text or "" for argument in element.findall("rsp:Arguments", NS)]
    text = " ".join([command.strip(), *arguments]).strip()
    return text, element.get("CommandId")


def receive_command_id(request: Request) -> str | None:
    element = request.body.find("rsp:Receive/rsp:DesiredStream", NS)
    return element.get("CommandId") if element is not None else None


def signal(request: Request) -> tuple[str | None, str]:
    element = request.body.find("rsp:Signal", NS)
    if element is None:
        return None, ""
    return element.get("CommandId"), (element.findtext("rsp:Code", "", NS) or "").strip()


# --- answers ------------------------------------------------------------------------------------


def envelope(request: Request, body: str, *, action_suffix: str = "Response") -> bytes:
    action = request.action_uri + action_suffix
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<s:Envelope xml:lang="en-US" xmlns:s="{NS["s"]}" xmlns:a="{NS["a"]}" xmlns:w="{NS["w"]}" '
        f'xmlns:p="{NS["p"]}" xmlns:x="{NS["x"]}" xmlns:rsp="{NS["rsp"]}">'
        "<s:Header>"
        f"<a:Action>{escape(action)}</a:Action>"
        f"<a:MessageID>uuid:{str(uuid.uuid4()).upper()}</a:MessageID>"
        "<a:To>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:To>"
        f"<a:RelatesTo>{escape(request.message_id)}</a:RelatesTo>"
        "</s:Header>"
        f"<s:Body>{body}</s:Body></s:Envelope>"
    ).encode()


def create_response(request: Request, shell_id: str, address: str) -> bytes:
    body = (
        "<x:ResourceCreated>"
        f"<a:Address>{escape(address)}</a:Address>"
        "<a:ReferenceParameters>"
        "<w:ResourceURI>http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd</w:ResourceURI>"
        f'<w:SelectorSet><w:Selector Name="ShellId">{shell_id}</w:Selector></w:SelectorSet>'
        "</a:ReferenceParameters>"
        "</x:ResourceCreated>"
        f"<rsp:Shell><rsp:ShellId>{shell_id}</rsp:ShellId>"
        "<rsp:ResourceUri>http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd</rsp:ResourceUri>"
        "<rsp:Owner>Administrator</rsp:Owner><rsp:ClientIP>127.0.0.1</rsp:ClientIP>"
        "<rsp:IdleTimeOut>PT7200.000S</rsp:IdleTimeOut><rsp:InputStreams>stdin</rsp:InputStreams>"
        "<rsp:OutputStreams>stdout stderr</rsp:OutputStreams><rsp:ShellRunTime>P0DT0H0M0S</rsp:ShellRunTime>"
        "<rsp:ShellInactivity>P0DT0H0M0S</rsp:ShellInactivity></rsp:Shell>"
    )
    return envelope(request, body)


def command_response(request: Request, command_id: str) -> bytes:
    return envelope(request, f"<rsp:CommandResponse><rsp:CommandId>{command_id}</rsp:CommandId></rsp:CommandResponse>")


def _stream_chunks(name: str, command_id: str, data: bytes, chunk: int = 6000) -> list[str]:
    return [
        f'<rsp:Stream Name="{name}" CommandId="{command_id}">{base64.b64encode(data[i : i + chunk]).decode()}'
        "</rsp:Stream>"
        for i in range(0, len(data), chunk)
    ]


RECEIVE_OVERHEAD = 4096  # room for the envelope and stream elements around the base64 text


def receive_budget(request: Request) -> int:
    """How many bytes of output fit in one Receive answer under the request's MaxEnvelopeSize."""
    return max(1024, (request.max_envelope_size - RECEIVE_OVERHEAD) * 3 // 4)


def receive_response(request: Request, command_id: str, stdout: bytes, stderr: bytes, exit_code: int | None) -> bytes:
    """One Receive answer. ``exit_code`` None means more output follows (state Running);
    otherwise the streams end and the state is Done with the exit code.

    As on a real host, CLIXML on stderr arrives in two chunks: the ``#< CLIXML`` line, then the document.
    """
    streams = _stream_chunks("stdout", command_id, stdout)
    header = b"#< CLIXML\r\n"
    if stderr.startswith(header):
        streams += _stream_chunks("stderr", command_id, header) + _stream_chunks(
            "stderr", command_id, stderr[len(header) :]
        )
    else:
        streams += _stream_chunks("stderr", command_id, stderr)
    if exit_code is None:
        state = f'<rsp:CommandState CommandId="{command_id}" State="{RUNNING}"/>'
    else:
        streams.append(f'<rsp:Stream Name="stdout" CommandId="{command_id}" End="true"></rsp:Stream>')
        streams.append(f'<rsp:Stream Name="stderr" CommandId="{command_id}" End="true"></rsp:Stream>')
        state = (
            f'<rsp:CommandState CommandId="{command_id}" State="{DONE}">'
            f"<rsp:ExitCode>{exit_code}</rsp:ExitCode></rsp:CommandState>"
        )
    return envelope(request, "<rsp:ReceiveResponse>" + "".join(streams) + state + "</rsp:ReceiveResponse>")


def signal_response(request: Request) -> bytes:
    return envelope(request, "<rsp:SignalResponse/>")


def delete_response(request: Request) -> bytes:
    return envelope(request, "")


def fault_response(request: Request | None, fault: WSManFault) -> bytes:
    code = "s:Sender" if fault.sender else "s:Receiver"
    body = (
        "<s:Fault>"
        f"<s:Code><s:Value>{code}</s:Value><s:Subcode><s:Value>{escape(fault.subcode)}</s:Value></s:Subcode></s:Code>"
        f'<s:Reason><s:Text xml:lang="en-US">{escape(fault.reason)}</s:Text></s:Reason>'
        f'<s:Detail><f:WSManFault xmlns:f="{NS["f"]}" Code={quoteattr(str(fault.code))} Machine="hvsim">'
        f"<f:Message>{escape(fault.reason)}</f:Message></f:WSManFault></s:Detail>"
        "</s:Fault>"
    )
    if request is None:
        request = Request("", "http://schemas.dmtf.org/wbem/wsman/1/wsman/fault", "", None, 0, ET.Element("x"))
        return envelope(request, body, action_suffix="")
    fault_request = Request(
        request.action, "http://schemas.dmtf.org/wbem/wsman/1/wsman/fault", request.message_id, None, 0, request.body
    )
    return envelope(fault_request, body, action_suffix="")
