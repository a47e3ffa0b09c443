"""Runtime values: how PowerShell objects, enums, hashtables and script blocks are represented.

Python ``str``/``int``/``float``/``bool``/``None`` stand for their .NET counterparts, a ``list`` is
an ``object[]``, :class:`Hashtable` is ``@{}`` (case-insensitive keys), and :class:`PSObject` is
any object with properties (a Hyper-V VM, a ``[pscustomobject]``, a ``Select-Object`` result).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any


class Hashtable:
    """An ordered dictionary with case-insensitive string keys, like PowerShell's ``@{}``."""

    def __init__(self, items: list[tuple[Any, Any]] | None = None):
        self._values: dict[Any, tuple[Any, Any]] = {}
        for key, value in items or []:
            self[key] = value

    @staticmethod
    def _fold(key: Any) -> Any:
        return key.lower() if isinstance(key, str) else key

    def __setitem__(self, key: Any, value: Any) -> None:
        folded = self._fold(key)
        original = self._values[folded][0] if folded in self._values else key
        self._values[folded] = (original, value)

    def __getitem__(self, key: Any) -> Any:
        return self._values[self._fold(key)][1]

    def get(self, key: Any, default: Any = None) -> Any:
        entry = self._values.get(self._fold(key))
        return default if entry is None else entry[1]

    def __contains__(self, key: Any) -> bool:
        return self._fold(key) in self._values

    def __len__(self) -> int:
        return len(self._values)

    def items(self) -> Iterator[tuple[Any, Any]]:
        return iter(self._values.values())

    def keys(self) -> list[Any]:
        return [key for key, _ in self._values.values()]

    def values(self) -> list[Any]:
        return [value for _, value in self._values.values()]


class PSObject:
    """An object with named properties and a .NET type name.

    ``display`` is what ``ToString()`` returns (a VM prints as its type name in 5.1, a custom object
    as ``@{Name=x}``). ``ref`` lets a cmdlet find the model object a pipeline input stands for.
    """

    __slots__ = ("type_name", "properties", "display", "ref")

    def __init__(
        self, type_name: str, properties: dict[str, Any] | Hashtable, *, display: str | None = None, ref: Any = None
    ):
        self.type_name = type_name
        self.properties = properties if isinstance(properties, Hashtable) else Hashtable(list(properties.items()))
        self.display = display
        self.ref = ref

    def __repr__(self) -> str:
        return f"PSObject({self.type_name}, {dict(self.properties.items())})"


@dataclass(frozen=True)
class EnumValue:
    """A .NET enum member. Prints as its name; ``ConvertTo-Json`` in 5.1 writes its number."""

    type_name: str
    name: str
    value: int

    def __str__(self) -> str:
        return self.name


def enum_type(type_name: str, members: dict[str, int]):
    """A factory for one enum type: ``VMState('Running')`` -> EnumValue."""
    by_name = {name.lower(): (name, value) for name, value in members.items()}

    def make(name: str) -> EnumValue:
        canonical, value = by_name[name.lower()]
        return EnumValue(type_name, canonical, value)

    make.members = members  # type: ignore[attr-defined]
    make.type_name = type_name  # type: ignore[attr-defined]
    return make


@dataclass(frozen=True)
class ScriptBlock:
    body: Any  # ast.StatementBlock

    def __str__(self) -> str:
        return self.body.text


@dataclass(frozen=True)
class DateTime:
    """A point in time; 5.1 serializes it as ``\\/Date(milliseconds)\\/``."""

    timestamp: float

    def __str__(self) -> str:
        moment = dt.datetime.fromtimestamp(self.timestamp, dt.UTC)
        hour = moment.hour % 12 or 12
        return f"{moment.month}/{moment.day}/{moment.year} {hour}:{moment.minute:02}:{moment.second:02} " + (
            "AM" if moment.hour < 12 else "PM"
        )


def timespan(seconds: float) -> PSObject:
    """A System.TimeSpan as 5.1's ConvertTo-Json shows it (an object of its properties)."""
    ticks = int(seconds * 10_000_000)
    whole = int(seconds)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    milliseconds = int((seconds - whole) * 1000)
    text = (
        (f"{days}." if days else "")
        + f"{hours:02}:{minutes:02}:{secs:02}"
        + (f".{ticks % 10_000_000:07}" if ticks % 10_000_000 else "")
    )
    return PSObject(
        "System.TimeSpan",
        {
            "Ticks": ticks,
            "Days": days,
            "Hours": hours,
            "Milliseconds": milliseconds,
            "Minutes": minutes,
            "Seconds": secs,
            "TotalDays": seconds / 86400,
            "TotalHours": seconds / 3600,
            "TotalMilliseconds": seconds * 1000,
            "TotalMinutes": seconds / 60,
            "TotalSeconds": seconds,
        },
        display=text,
    )


def version(text: str) -> PSObject:
    """A System.Version such as 9.0 (Build and Revision are -1 when not given, as in .NET)."""
    parts = [int(part) for part in text.split(".")] + [-1, -1]
    major, minor, build, revision = (parts + [-1, -1])[:4]
    return PSObject(
        "System.Version",
        {
            "Major": major,
            "Minor": minor,
            "Build": build,
            "Revision": revision,
            "MajorRevision": -1 if revision < 0 else revision >> 16,
            "MinorRevision": -1 if revision < 0 else revision & 0xFFFF,
        },
        display=text,
    )


def type_name_of(value: Any) -> str:
    """The .NET type name PowerShell reports for a value (``GetType().FullName``)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "System.Boolean"
    if isinstance(value, int):
        return "System.Int32" if -(2**31) <= value < 2**31 else "System.Int64"
    if isinstance(value, float):
        return "System.Double"
    if isinstance(value, str):
        return "System.String"
    if isinstance(value, list):
        return "System.Object[]"
    if isinstance(value, Hashtable):
        return "System.Collections.Hashtable"
    if isinstance(value, PSObject):
        return value.type_name
    if isinstance(value, EnumValue):
        return value.type_name
    if isinstance(value, ScriptBlock):
        return "System.Management.Automation.ScriptBlock"
    if isinstance(value, DateTime):
        return "System.DateTime"
    return "System.Object"


def to_text(value: Any) -> str:
    """How PowerShell turns a value into a string (``"$x"``, ``[string]$x``, ``.ToString()``)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    if isinstance(value, list):
        return " ".join(to_text(item) for item in value)
    if isinstance(value, PSObject):
        if value.display is not None:
            return value.display
        if value.type_name == "System.Management.Automation.PSCustomObject":
            return "@{" + "; ".join(f"{key}={to_text(item)}" for key, item in value.properties.items()) + "}"
        return value.type_name
    if isinstance(value, Hashtable):
        return "System.Collections.Hashtable"
    return str(value)


def to_bool(value: Any) -> bool:
    """PowerShell truthiness: empty arrays and strings are false, a one-element array is its element."""
    if value is None:
        return False
    if isinstance(value, list):
        if not value:
            return False
        return to_bool(value[0]) if len(value) == 1 else True
    if isinstance(value, EnumValue):
        return value.value != 0
    if isinstance(value, (bool, int, float, str)):
        return bool(value)
    return True


def enumerate_value(value: Any) -> list[Any]:
    """What a pipeline sees when a value is written to it: an array unrolls into its elements;
    anything else, $null included, is one object (``$null | ForEach-Object {..}`` runs once)."""
    if isinstance(value, list):
        return value
    return [value]
