"""The rules for every value that becomes a name, path or setting on a Hyper-V host.

Declared once, here, in plain Python (no Django): the driver checks values with these before it
sends anything, and ``config.validators`` wraps the same functions for model fields, serializers,
admin forms and services, so what the API accepts the host accepts.

Each ``check_*`` returns the value or raises ``InvalidValue`` (a ValueError) whose message names
the rule. The rules follow Windows and Hyper-V (docs/hyperv.md, hyperv-real-host.md, and
Microsoft's "Naming Files, Paths, and Namespaces"), tightened where a loose rule buys nothing:

- Hyper-V compares names of VMs, switches and checkpoints case-insensitively; VM and
  checkpoint names are limited to 100 characters (longer ones: "The parameter is incorrect.").
- A VM name becomes a folder and a file name (``vm_root\\<name>\\<name>.vhdx``), so it must be a
  valid Windows file name: none of ``<>:"/\\|?*``, no trailing dot or space, not a DOS device name
  (CON, PRN, AUX, NUL, COM0-9, LPT0-9, with any extension).
- Names passed to ``-Name`` are wildcard patterns (``*``, ``?``, ``[``), so none of those either.

This module also derives the names Nestlab gives host objects (``vm_name``, ``tenant_switch_name``,
``lab_switch_name``): lower-case, within the limits, and injective over their inputs, so two
tenants or two labs never map to one name under Hyper-V's case-insensitive comparison.
"""

from __future__ import annotations

import hashlib
import re
from uuid import UUID

from workers.hyperv.errors import InvalidValue

#: Hyper-V refuses longer VM and checkpoint names.
MAX_VM_NAME = 100
MAX_CHECKPOINT_NAME = 100
#: Switch names also name the NAT (New-NetNat) and the host adapter "vEthernet (<name>)"; a
#: conservative limit well under every one of those.
MAX_SWITCH_NAME = 64
MAX_ADAPTER_NAME = 64
MAX_TENANT_SLUG = 40
#: Local paths Nestlab sends; short enough that vm_root\<vm>\<vm>.vhdx stays under MAX_PATH (260).
MAX_PATH_LENGTH = 160
#: Nestlab's own checkpoints (the clean one) start with this; users may not use it.
RESERVED_CHECKPOINT_PREFIX = "nestlab-"

#: DOS device names: as a file or folder name (with any extension) they open the device.
RESERVED_DEVICE_NAMES = frozenset(
    "CON PRN AUX NUL COM0 COM1 COM2 COM3 COM4 COM5 COM6 COM7 COM8 COM9 "
    "LPT0 LPT1 LPT2 LPT3 LPT4 LPT5 LPT6 LPT7 LPT8 LPT9".split()
)

_DEVICES = "CON, PRN, AUX, NUL, COM0-9, LPT0-9"
_OBJECT_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*", re.ASCII)
_CHECKPOINT_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._-]*", re.ASCII)
_ADAPTER_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._()#-]*", re.ASCII)
_PATH_SEGMENT = r"[A-Za-z0-9_][A-Za-z0-9 ._()-]{0,63}"
_WINDOWS_PATH_RE = re.compile(r"[A-Za-z]:(?:\\" + _PATH_SEGMENT + r")+", re.ASCII)
_ACCOUNT_RE = re.compile(
    r"(?:[A-Za-z0-9][A-Za-z0-9.-]{0,62}\\)?"  # optional DOMAIN\
    r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}"  # user
    r"(?:@[A-Za-z0-9.-]{1,190})?",  # optional @domain
    re.ASCII,
)
_SLUG_RE = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?", re.ASCII)
_CONFIG_VERSION_RE = re.compile(r"[0-9]{1,2}\.[0-9]{1,2}", re.ASCII)


def is_device_name(segment: str) -> bool:
    """True for a DOS device name, with or without an extension (``nul``, ``COM1.txt``)."""
    return segment.split(".", 1)[0].rstrip(" ").upper() in RESERVED_DEVICE_NAMES


def is_bad_file_name(segment: str) -> bool:
    """True for names Windows would alias or treat as a device: a trailing dot or space, or a
    reserved device name."""
    return segment.endswith((" ", ".")) or is_device_name(segment)


def _name(value, *, what: str, pattern: re.Pattern, limit: int, allowed: str) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidValue(f"{what} is required; got {value!r}")
    if len(value) > limit:
        raise InvalidValue(f"{what} must be at most {limit} characters; got {len(value)}")
    if not pattern.fullmatch(value):
        raise InvalidValue(f"{what} may contain only {allowed}, and must start with a letter or digit; got {value!r}")
    if value.endswith((" ", ".")):
        raise InvalidValue(f"{what} must not end with a dot or a space; got {value!r}")
    if is_device_name(value):
        raise InvalidValue(f"{what} must not be a Windows device name ({_DEVICES}); got {value!r}")
    return value


def check_vm_name(value: str, *, what: str = "VM name") -> str:
    """A VM name: 1-100 ASCII letters, digits, '.', '_', '-'; a valid Windows file name."""
    return _name(
        value, what=what, pattern=_OBJECT_NAME_RE, limit=MAX_VM_NAME, allowed="letters, digits, '.', '_' and '-'"
    )


def check_switch_name(value: str, *, what: str = "switch name") -> str:
    """A virtual switch (and NAT) name: 1-64 ASCII letters, digits, '.', '_', '-'."""
    return _name(
        value, what=what, pattern=_OBJECT_NAME_RE, limit=MAX_SWITCH_NAME, allowed="letters, digits, '.', '_' and '-'"
    )


def check_checkpoint_name(value: str, *, what: str = "checkpoint name") -> str:
    """A checkpoint name: 1-100 ASCII letters, digits, spaces, '.', '_', '-'; no trailing dot or
    space; not a device name."""
    return _name(
        value,
        what=what,
        pattern=_CHECKPOINT_NAME_RE,
        limit=MAX_CHECKPOINT_NAME,
        allowed="letters, digits, spaces, '.', '_' and '-'",
    )


def check_user_checkpoint_name(value: str, *, what: str = "checkpoint name") -> str:
    """A checkpoint name a person may choose: a checkpoint name not starting with 'nestlab-'."""
    check_checkpoint_name(value, what=what)
    if value.lower().startswith(RESERVED_CHECKPOINT_PREFIX):
        raise InvalidValue(f"{what} must not start with '{RESERVED_CHECKPOINT_PREFIX}' (reserved for Nestlab)")
    return value


def check_adapter_name(value: str, *, what: str = "network adapter name") -> str:
    """A physical NIC name as Windows shows it ("Ethernet 2", "SLOT 3 Port 1")."""
    return _name(
        value,
        what=what,
        pattern=_ADAPTER_NAME_RE,
        limit=MAX_ADAPTER_NAME,
        allowed="letters, digits, spaces, '.', '_', '(', ')', '#' and '-'",
    )


def check_windows_path(value: str, *, what: str = "path") -> str:
    """An absolute local Windows path (``C:\\Nestlab\\Labs``) of plain segments: each segment starts
    with a letter, digit or '_' (so no '..' and no leading space), has at most 64 letters, digits,
    spaces, '.', '_', '(', ')', '-', does not end with a dot or space and is not a device name; no
    UNC, device or relative paths; at most 160 characters."""
    if not isinstance(value, str) or not value:
        raise InvalidValue(f"{what} is required; got {value!r}")
    if len(value) > MAX_PATH_LENGTH:
        raise InvalidValue(f"{what} must be at most {MAX_PATH_LENGTH} characters; got {len(value)}")
    if not _WINDOWS_PATH_RE.fullmatch(value):
        raise InvalidValue(
            f"{what} must be an absolute local Windows path such as C:\\Nestlab\\Labs: a drive letter, then"
            " folders that start with a letter, digit or '_' and hold only letters, digits, spaces, '.', '_',"
            f" '(', ')' and '-' (no '..', no leading spaces, no UNC paths); got {value!r}"
        )
    for segment in value.split("\\")[1:]:
        if segment.endswith((" ", ".")):
            raise InvalidValue(f"{what}: a folder or file name must not end with a dot or a space; got {segment!r}")
        if is_device_name(segment):
            raise InvalidValue(f"{what}: {segment!r} is a Windows device name ({_DEVICES})")
    return value


def check_base_image_path(value: str, *, what: str = "base image path") -> str:
    """A base image: a Windows path (see ``check_windows_path``) to a .vhdx or .vhd file."""
    check_windows_path(value, what=what)
    if not value.lower().endswith((".vhdx", ".vhd")):
        raise InvalidValue(f"{what} must name a .vhdx or .vhd file; got {value!r}")
    return value


def check_account(value: str, *, what: str = "account") -> str:
    """A Windows account: user, DOMAIN\\user or user@domain.tld, in plain ASCII."""
    if not isinstance(value, str) or not _ACCOUNT_RE.fullmatch(value):
        raise InvalidValue(f"{what} must look like user, DOMAIN\\user or user@domain; got {value!r}")
    return value


def check_tenant_slug(value: str, *, what: str = "slug") -> str:
    """A tenant slug (it becomes part of host object names): 1-40 lower-case ASCII letters,
    digits and '-', starting and ending with a letter or digit; not a device name."""
    if not isinstance(value, str) or not value:
        raise InvalidValue(f"{what} is required; got {value!r}")
    if len(value) > MAX_TENANT_SLUG:
        raise InvalidValue(f"{what} must be at most {MAX_TENANT_SLUG} characters; got {len(value)}")
    if not _SLUG_RE.fullmatch(value):
        raise InvalidValue(
            f"{what} may contain only lower-case letters, digits and '-', and must start and end with a letter"
            f" or digit; got {value!r}"
        )
    if is_device_name(value):
        raise InvalidValue(f"{what} must not be a Windows device name ({_DEVICES.lower()}); got {value!r}")
    return value


def check_memory_mb(value: int, *, what: str = "memory_mb") -> int:
    """Startup memory in MB: Hyper-V needs a whole multiple of 2 MB."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidValue(f"{what} must be a whole number of MB; got {value!r}")
    if value % 2:
        raise InvalidValue(f"{what} must be a multiple of 2 MB (Hyper-V's memory granularity); got {value}")
    return value


def check_config_version(value: str, *, what: str = "config_version") -> str:
    """A VM configuration version such as 9.0 or 10.0, in ASCII digits."""
    if not isinstance(value, str) or not _CONFIG_VERSION_RE.fullmatch(value):
        raise InvalidValue(f"{what} must look like 9.0 or 10.0 (ASCII digits, one dot); got {value!r}")
    return value


#: Secure Boot settings of a Generation 2 VM, as ``Set-VMFirmware`` spells them: the Microsoft
#: Windows template (Hyper-V's default), the Microsoft UEFI Certificate Authority template (what
#: Linux guests need: "To Secure Boot generation 2 Linux VMs, you need to choose the UEFI CA
#: Secure Boot template", hyperv-real-host.md [S14]), or Secure Boot off. Generation 1 VMs have
#: BIOS firmware and no Secure Boot; the setting does not apply to them.
SECURE_BOOT_WINDOWS = "MicrosoftWindows"
SECURE_BOOT_UEFI_CA = "MicrosoftUEFICertificateAuthority"
SECURE_BOOT_OFF = "Off"
SECURE_BOOT_SETTINGS = (SECURE_BOOT_WINDOWS, SECURE_BOOT_UEFI_CA, SECURE_BOOT_OFF)


def check_secure_boot(value: str, *, what: str = "secure_boot") -> str:
    """One of SECURE_BOOT_SETTINGS."""
    if value not in SECURE_BOOT_SETTINGS:
        raise InvalidValue(f"{what} must be one of {', '.join(SECURE_BOOT_SETTINGS)}; got {value!r}")
    return value


def check_generation_disk(generation: int, path: str, *, what: str = "base image path") -> str:
    """A Generation 2 VM boots only from a SCSI .vhdx ("Generation 1 or 2", hyperv-real-host.md
    [S14]); a .vhd base image can serve Generation 1 only."""
    if generation == 2 and isinstance(path, str) and path.lower().endswith(".vhd"):
        raise InvalidValue(
            f"{what} must be a .vhdx file for a Generation 2 VM (Generation 2 cannot boot from .vhd); got {path!r}"
        )
    return path


# --- Names Nestlab derives for host objects ----------------------------------------------------


def _fit(name: str, limit: int, identity: str) -> str:
    """``name`` if it fits ``limit``, else its head plus a hash of ``identity`` (the full,
    case-sensitive identity the name stands for), so truncation never merges two names."""
    if len(name) <= limit:
        return name
    digest = hashlib.sha256(identity.encode("utf-8")).hexdigest()[:16]
    return name[: limit - len(digest) - 1].rstrip("-.") + "-" + digest


def vm_name(lab_id: UUID) -> str:
    """The deterministic VM name of a lab (also its folder and disk file name)."""
    return check_vm_name(_fit(f"nestlab-{UUID(str(lab_id))}", MAX_VM_NAME, f"vm:{lab_id}"))


def tenant_switch_name(tenant_slug: str, mode: str) -> str:
    """The switch (and NAT) a tenant's labs of one network mode share on a host.

    Slugs are lower-case and unique case-insensitively, so this is too; the slug is lower-cased
    again here so a caller with an old mixed-case row still gets the host's spelling."""
    slug = tenant_slug.lower()
    return check_switch_name(_fit(f"nestlab-{slug}-{mode}", MAX_SWITCH_NAME, f"tenant:{slug}:{mode}"))


def lab_switch_name(lab_id: UUID) -> str:
    """The switch of a lab whose template asks for a network of its own."""
    return check_switch_name(_fit(f"nestlab-lab-{UUID(str(lab_id)).hex}", MAX_SWITCH_NAME, f"lab:{lab_id}"))
