"""How values become PowerShell: one quoting function, validators, and script assembly.

A script is a constant template plus a prologue that assigns each value to a variable:

    $ErrorActionPreference='Stop'; $ProgressPreference='SilentlyContinue'
    $Name='lab-1'; $Cpu=2
    <constant template text that only refers to $Name, $Cpu>

so a value reaches PowerShell only as a literal made by ``ps_literal`` (strings through
``ps_quote``), never spliced into code. Templates end in ``ConvertTo-Json ... -Compress`` so the
caller always parses JSON.
"""

from __future__ import annotations

import base64
import ipaddress
import re
from collections.abc import Sequence

from workers.hyperv import names
from workers.hyperv.errors import CommandTooLong, InvalidValue

#: Characters PowerShell treats as a single quote inside a single-quoted string: the ASCII
#: apostrophe and the smart quotes U+2018..U+201B. Inside '...' each is escaped by doubling.
SINGLE_QUOTE_CHARS = "'\u2018\u2019\u201a\u201b"
_SINGLE_QUOTE_RE = re.compile("[" + SINGLE_QUOTE_CHARS + "]")

#: Windows rejects longer command lines ("The command line is too long.").
MAX_COMMAND_LINE = 8191
#: -NoProfile: a host profile's output would break the JSON; -NonInteractive: a prompt fails at
#: once instead of hanging until the deadline (hyperv-real-host.md section 5 item 6).
COMMAND_PREFIX = "powershell -NoProfile -NonInteractive -EncodedCommand "
PROLOGUE = "$ErrorActionPreference='Stop'; $ProgressPreference='SilentlyContinue'\n"

#: The plainest object name (switches); every rule lives in workers/hyperv/names.py.
NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", re.ASCII)
_VARIABLE_RE = re.compile(r"[A-Z][A-Za-z0-9]*")


def ps_quote(value: str) -> str:
    """Return ``value`` as a PowerShell single-quoted string literal.

    Every quote character PowerShell recognises (``'`` and U+2018..U+201B) is doubled, so the
    literal cannot be closed early; nothing else is special inside single quotes.
    """
    if not isinstance(value, str):
        raise TypeError("ps_quote takes a str")
    return "'" + _SINGLE_QUOTE_RE.sub(lambda match: match.group(0) * 2, value) + "'"


PsValue = str | bool | int | None | Sequence[str]


def ps_literal(value: PsValue) -> str:
    """A PowerShell literal for a Python value: strings via ``ps_quote``, integers in decimal,
    booleans as ``$true``/``$false``, ``None`` as ``$null``, and sequences of strings as ``@(...)``."""
    if value is None:
        return "$null"
    if isinstance(value, bool):
        return "$true" if value else "$false"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, str):
        return ps_quote(value)
    if isinstance(value, (list, tuple)):
        return "@(" + ",".join(ps_quote(item) for item in value) + ")"
    raise TypeError(f"no PowerShell literal for {type(value).__name__}")


def build_script(template: str, **values: PsValue) -> str:
    """Assemble one script: the prologue, one ``$Var=<literal>`` line per value, then the
    constant ``template``. Raises CommandTooLong if the encoded command line would not fit."""
    if not template.rstrip().endswith("-Compress") or "ConvertTo-Json" not in template:
        raise ValueError("a script template must end in ConvertTo-Json ... -Compress")
    assignments = []
    for variable, value in values.items():
        if not _VARIABLE_RE.fullmatch(variable):
            raise ValueError(f"bad PowerShell variable name {variable!r}")
        assignments.append("$" + variable + "=" + ps_literal(value))
    prologue = PROLOGUE + ("; ".join(assignments) + "\n" if assignments else "")
    script = prologue + template.strip() + "\n"
    check_length(script)
    return script


def encoded_command(script: str) -> str:
    """The exact command line sent to the host for ``script``."""
    return COMMAND_PREFIX + base64.b64encode(script.encode("utf-16-le")).decode("ascii")


def command_line_length(script: str) -> int:
    return len(encoded_command(script))


def check_length(script: str) -> None:
    """Raise CommandTooLong unless the encoded command line stays under the Windows limit."""
    length = command_line_length(script)
    if length >= MAX_COMMAND_LINE:
        raise CommandTooLong(
            f"the script encodes to a {length}-character command line; Windows accepts fewer than {MAX_COMMAND_LINE}"
        )


# The name and path rules are declared once, in names.py; these keep the driver's old spellings.
def validate_name(value: str, *, what: str = "name") -> str:
    """Return ``value`` if it is a plain object name (the switch rule: 1-64 letters, digits, '.',
    '_', '-'), else raise InvalidValue."""
    return names.check_switch_name(value, what=what)


def validate_adapter_name(value: str) -> str:
    return names.check_adapter_name(value)


def validate_windows_path(value: str, *, what: str = "path") -> str:
    return names.check_windows_path(value, what=what)


def validate_account(value: str) -> str:
    return names.check_account(value)


def validate_vlan_id(value: int) -> int:
    """Return an access VLAN id in 1..4094 or raise InvalidValue."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 4094:
        raise InvalidValue(f"VLAN id must be an integer in 1..4094; got {value!r}")
    return value


def validate_nat_prefix(value: str) -> ipaddress.IPv4Network:
    """Return the NAT prefix (an IPv4 network in CIDR form, /8../30, host bits zero) or raise
    InvalidValue."""
    try:
        network = ipaddress.IPv4Network(value, strict=True)
    except (ipaddress.AddressValueError, ipaddress.NetmaskValueError, ValueError, TypeError):
        raise InvalidValue(f"NAT prefix must be an IPv4 network like 10.20.0.0/24; got {value!r}")
    if not 8 <= network.prefixlen <= 30 or "/" not in value:
        raise InvalidValue(f"NAT prefix must be an IPv4 network between /8 and /30; got {value!r}")
    return network
