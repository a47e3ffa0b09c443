"""Strict readers for settings that come from the environment.

Every reader names the variable in its error, so a bad value stops start-up with a message an
operator can act on. Secrets may also come from a file: for ``SECRET_KEY`` the reader looks at
``SECRET_KEY_FILE`` as well (the Docker/systemd-credentials convention); setting both is an error.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class SettingError(ImproperlyConfigured):
    """A setting in the environment is missing or malformed."""

    def __init__(self, name: str, rule: str, value: str | None = None):
        shown = "" if value is None else f" (got {value!r})"
        super().__init__(f"environment variable {name}: {rule}{shown}")
        self.name = name


def _raw(name: str) -> str | None:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return None
    return value.strip()


def env_str(name: str, default: str | None = None) -> str | None:
    value = _raw(name)
    return default if value is None else value


def env_bool(name: str, default: bool) -> bool:
    value = _raw(name)
    if value is None:
        return default
    lowered = value.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise SettingError(name, "must be one of 1/0, true/false, yes/no, on/off", value)


def env_int(name: str, default: int, *, minimum: int | None = None, maximum: int | None = None) -> int:
    value = _raw(name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise SettingError(name, "must be a whole number", value) from None
    if minimum is not None and number < minimum:
        raise SettingError(name, f"must be at least {minimum}", value)
    if maximum is not None and number > maximum:
        raise SettingError(name, f"must be at most {maximum}", value)
    return number


def env_float(name: str, default: float, *, minimum: float | None = None) -> float:
    value = _raw(name)
    if value is None:
        return default
    try:
        number = float(value)
    except ValueError:
        raise SettingError(name, "must be a number", value) from None
    if minimum is not None and number < minimum:
        raise SettingError(name, f"must be at least {minimum}", value)
    return number


def env_list(name: str, default: list[str]) -> list[str]:
    value = _raw(name)
    if value is None:
        return list(default)
    items = [item.strip() for item in value.split(",")]
    if any(not item for item in items):
        raise SettingError(name, "must be a comma-separated list without empty items", value)
    return items


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = _raw(name)
    if value is None:
        return default
    if value not in choices:
        raise SettingError(name, f"must be one of {', '.join(choices)}", value)
    return value


def env_range(name: str, default: str, *, minimum: int, maximum: int) -> range:
    """A span of whole numbers written ``low-high`` (both included), within minimum..maximum."""
    value = _raw(name) or default
    try:
        low, high = (int(part) for part in value.split("-", 1))
    except ValueError:
        raise SettingError(name, f"must look like {default} (low-high)", value) from None
    if not minimum <= low <= high <= maximum:
        raise SettingError(name, f"must be low-high with {minimum} <= low <= high <= {maximum}", value)
    return range(low, high + 1)


def env_ipv4_network(name: str, default: str) -> ipaddress.IPv4Network:
    """An IPv4 network in CIDR form (``10.192.0.0/12``), with no host bits set."""
    value = _raw(name) or default
    try:
        return ipaddress.IPv4Network(value)
    except ValueError as exc:
        raise SettingError(name, f"must be an IPv4 network such as {default} ({exc})", value) from None


def env_secret(name: str, default: str | None = None) -> str | None:
    """Read a secret from ``NAME`` or from the file named by ``NAME_FILE``; never both."""
    direct = _raw(name)
    file_name = _raw(f"{name}_FILE")
    if direct is not None and file_name is not None:
        raise SettingError(name, f"set either {name} or {name}_FILE, not both")
    if file_name is not None:
        path = Path(file_name)
        try:
            content = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise SettingError(f"{name}_FILE", f"cannot read the file: {exc.strerror}", file_name) from None
        if not content:
            raise SettingError(f"{name}_FILE", "the file is empty", file_name)
        return content
    return default if direct is None else direct
