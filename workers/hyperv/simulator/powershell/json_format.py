"""``ConvertTo-Json`` exactly as Windows PowerShell 5.1 writes it.

5.1 serializes through JavaScriptSerializer: enums are numbers, ``< > & '`` are escaped as
``\\u003c``..., dates are ``\\/Date(ms)\\/``, objects deeper than ``-Depth`` (default 2) become their
``ToString()``, and the indented form puts two spaces after each colon.
"""

from __future__ import annotations

from typing import Any

from .values import DateTime, EnumValue, Hashtable, PSObject, ScriptBlock, to_text

_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "'": "\\u0027",
}


def json_string(text: str) -> str:
    out = []
    for char in text:
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif ord(char) < 0x20:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def _number(value: int | float) -> str:
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return json_string(str(value))
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    return str(value)


def _prepare(value: Any, depth: int, max_depth: int) -> Any:
    """Turn a PowerShell value into plain JSON-able Python, applying the depth cut-off."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, EnumValue):
        return value.value
    if isinstance(value, DateTime):
        return _Raw(json_string(f"\\/Date({int(value.timestamp * 1000)})\\/").replace("\\\\/", "\\/"))
    if isinstance(value, ScriptBlock):
        return str(value)
    if isinstance(value, list):
        if depth > max_depth:
            return " ".join(to_text(item) for item in value)
        # 5.1 writes an array inside an array as an object of the array's properties:
        # `@(1,@(2,3),4) | ConvertTo-Json -Compress` gives [1,{"value":[2,3],"Count":2},4]
        # (hyperv-real-host.md section 4, [S18]).
        return [
            {"value": _prepare(item, depth + 2, max_depth), "Count": len(item)}
            if isinstance(item, list)
            else _prepare(item, depth + 1, max_depth)
            for item in value
        ]
    if isinstance(value, Hashtable):
        if depth > max_depth:
            return "System.Collections.Hashtable"
        return {to_text(key): _prepare(item, depth + 1, max_depth) for key, item in value.items()}
    if isinstance(value, PSObject):
        if depth > max_depth:
            return to_text(value)
        return {key: _prepare(item, depth + 1, max_depth) for key, item in value.properties.items()}
    return to_text(value)


class _Raw(str):
    """Already-encoded JSON text."""


def _write(value: Any, compress: bool, indent: int) -> str:
    if value is None:
        return "null"
    if isinstance(value, _Raw):
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return _number(value)
    if isinstance(value, str):
        return json_string(value)
    pad = "    " * (indent + 1)
    if isinstance(value, list):
        if compress:
            return "[" + ",".join(_write(item, True, 0) for item in value) + "]"
        if not value:
            return "[\r\n\r\n" + "    " * indent + "]"
        inner = ",\r\n".join(pad + _write(item, False, indent + 1) for item in value)
        return "[\r\n" + inner + "\r\n" + "    " * indent + "]"
    if compress:
        return "{" + ",".join(json_string(key) + ":" + _write(item, True, 0) for key, item in value.items()) + "}"
    if not value:
        return "{\r\n\r\n" + "    " * indent + "}"
    inner = ",\r\n".join(
        pad + json_string(key) + ":  " + _write(item, False, indent + 1) for key, item in value.items()
    )
    return "{\r\n" + inner + "\r\n" + "    " * indent + "}"


def convert_to_json(value: Any, *, depth: int = 2, compress: bool = False) -> str:
    """One value (a list for several pipeline objects) as 5.1's ConvertTo-Json text."""
    return _write(_prepare(value, 0, depth), compress, 0)
