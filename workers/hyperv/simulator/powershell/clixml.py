"""The CLIXML document powershell.exe writes to stderr when its output is redirected (as over WinRM)."""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import escape

from .errors import ErrorRecord, format_error

HEADER = "#< CLIXML\r\n"
_PROGRESS_FIRST_USE = (
    '<Obj S="progress" RefId="{ref}"><TN RefId="0"><T>System.Management.Automation.PSCustomObject</T>'
    '<T>System.Object</T></TN><MS><I64 N="SourceId">1</I64><PR N="Record"><AV>Preparing modules for first '
    "use.</AV><AI>0</AI><Nil /><PI>-1</PI><PC>-1</PC><T>Completed</T><SR>-1</SR><SD> </SD></PR></MS></Obj>"
)


def encode_text(text: str) -> str:
    """CLIXML string encoding: control characters, surrogates and `_x` sequences become _xHHHH_."""
    out = []
    for index, char in enumerate(text):
        code = ord(char)
        if char == "_" and text[index + 1 : index + 2] in ("x", "X"):
            out.append("_x005F_")
        elif code < 0x20 or 0xD800 <= code <= 0xDFFF or code in (0xFFFE, 0xFFFF):
            out.append(f"_x{code:04X}_")
        elif code > 0xFFFF:
            high = 0xD800 + ((code - 0x10000) >> 10)
            low = 0xDC00 + ((code - 0x10000) & 0x3FF)
            out.append(f"_x{high:04X}__x{low:04X}_")
        else:
            out.append(char)
    return escape("".join(out))


def render_stderr(entries: list[tuple[str, Any]], *, show_first_use_progress: bool) -> str:
    """All of a command's errors, warnings and progress as ONE CLIXML document (or "" for none)."""
    parts: list[str] = []
    if show_first_use_progress:
        parts.append(_PROGRESS_FIRST_USE.format(ref=0))
    for stream, payload in entries:
        if stream == "Error":
            assert isinstance(payload, ErrorRecord)
            for line in format_error(payload):
                parts.append(f'<S S="Error">{encode_text(line + chr(13) + chr(10))}</S>')
        elif stream == "warning":
            parts.append(f'<S S="warning">{encode_text(str(payload) + chr(13) + chr(10))}</S>')
    if not parts:
        return ""
    return (
        HEADER
        + '<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">'
        + "".join(parts)
        + "</Objs>"
    )
