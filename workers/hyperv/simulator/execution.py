"""Running one WinRS command on the simulated host: the command line, powershell.exe's own
arguments, the script, and the bytes that go back on stdout and stderr."""

from __future__ import annotations

import base64
import binascii
import threading
from dataclasses import dataclass
from typing import Any

from .faults import FaultBook, FaultRule
from .hyperv.commands import command_table
from .hyperv.model import Host
from .latency import Latency
from .powershell.binding import CmdletSpec
from .powershell.clixml import render_stderr
from .powershell.errors import CmdletError, CommandCancelled, ErrorRecord
from .powershell.evaluator import Interpreter
from .powershell.values import Hashtable, PSObject, to_text

MAX_COMMAND_LINE = 8191  # cmd.exe's limit on Windows
TOO_LONG = "The command line is too long.\r\n"
BAD_ENCODED_COMMAND = (
    "Cannot process the command because the value specified with -EncodedCommand is not properly "
    "encoded. The value must be Base64 encoded.\r\n"
)
BAD_COMMAND_LINE_EXIT = -196608  # powershell.exe's ExitCodeBadCommandLineParameter
# powershell.exe switches: (name, shortest accepted prefix, takes a value)
POWERSHELL_SWITCHES = (
    ("encodedcommand", "e", True),
    ("executionpolicy", "ex", True),
    ("command", "c", True),
    ("noprofile", "nop", False),
    ("noninteractive", "noni", False),
    ("nologo", "nol", False),
    ("noexit", "noe", False),
    ("inputformat", "i", True),
    ("outputformat", "o", True),
    ("windowstyle", "w", True),
    ("file", "f", True),
    ("sta", "s", False),
    ("mta", "mta", False),
    ("version", "v", True),
    ("configurationname", "config", True),
)

SWITCH_ALIASES = {"ec": "encodedcommand"}  # not a prefix, but powershell.exe accepts it


@dataclass
class CommandOutcome:
    stdout: bytes
    stderr: bytes
    exit_code: int
    transport_fault: FaultRule | None = None  # drop/http500 to apply when the result is collected


@dataclass
class HostRuntime:
    """Everything a command runs against."""

    host: Host
    latency: Latency
    faults: FaultBook


def encode(text: str, codepage: int) -> bytes:
    codec = "utf-8" if codepage == 65001 else f"cp{codepage}"
    try:
        return text.encode(codec, errors="replace")
    except LookupError:
        return text.encode("cp437", errors="replace")


def split_command_line(line: str) -> list[str]:
    """Split like CommandLineToArgvW, enough for the command lines WinRS clients send."""
    words: list[str] = []
    current: list[str] = []
    quoted = False
    in_word = False
    for char in line:
        if char == '"':
            quoted = not quoted
            in_word = True
        elif char in " \t" and not quoted:
            if in_word:
                words.append("".join(current))
                current, in_word = [], False
        else:
            current.append(char)
            in_word = True
    if in_word:
        words.append("".join(current))
    return words


def run_command_line(
    runtime: HostRuntime, command_line: str, codepage: int, cancelled: threading.Event
) -> CommandOutcome:
    if len(command_line) > MAX_COMMAND_LINE:
        return CommandOutcome(b"", encode(TOO_LONG, codepage), 1)
    words = split_command_line(command_line)
    if not words:
        return CommandOutcome(b"", b"", 0)
    program = words[0].replace("/", "\\").rsplit("\\", 1)[-1].lower().removesuffix(".exe")
    if program == "powershell":
        return _run_powershell(runtime, words[1:], codepage, cancelled)
    return _run_cmd_builtin(runtime, words, codepage)


def _run_cmd_builtin(runtime: HostRuntime, words: list[str], codepage: int) -> CommandOutcome:
    """A few cmd.exe commands; anything else is "not recognized", exit 9009, as cmd.exe does."""
    name = words[0].lower()
    if name == "hostname":
        return CommandOutcome(encode(runtime.host.config.computer_name + "\r\n", codepage), b"", 0)
    if name == "echo":
        return CommandOutcome(encode(" ".join(words[1:]) + "\r\n", codepage), b"", 0)
    if name == "whoami":
        return CommandOutcome(
            encode(f"{runtime.host.config.computer_name.lower()}\\administrator\r\n", codepage), b"", 0
        )
    if name == "ver":
        return CommandOutcome(
            encode(f"\r\nMicrosoft Windows [Version 10.0.{runtime.host.config.os_build}.1]\r\n", codepage), b"", 0
        )
    message = (
        f"'{words[0]}' is not recognized as an internal or external command,\r\noperable program or batch file.\r\n"
    )
    return CommandOutcome(b"", encode(message, codepage), 9009)


def _script_from_arguments(arguments: list[str], switches: set[str] | None = None) -> tuple[str | None, str | None]:
    """The script powershell.exe would run, or an error text for bad arguments. The switches
    given before the script are added to ``switches``."""
    switches = set() if switches is None else switches
    index = 0
    while index < len(arguments):
        word = arguments[index]
        if word[:1] not in "-/" or len(word) < 2:
            return " ".join(arguments[index:]), None  # a bare script is -Command
        key = word[1:].lower()
        key = SWITCH_ALIASES.get(key, key)
        switch = next((s for s in POWERSHELL_SWITCHES if s[0].startswith(key) and key.startswith(s[1])), None)
        if switch is None:
            return None, f"-{word[1:]} : The term '-{word[1:]}' is not recognized as a valid parameter.\r\n"
        name, _, takes_value = switch
        switches.add(name)
        if takes_value and index + 1 >= len(arguments):
            return None, f"Missing the argument for parameter -{name}.\r\n"
        if name == "encodedcommand":
            try:
                return base64.b64decode(arguments[index + 1], validate=True).decode("utf-16-le"), None
            except (binascii.Error, ValueError, UnicodeDecodeError):
                return None, BAD_ENCODED_COMMAND
        if name == "command":
            return " ".join(arguments[index + 1 :]), None
        if name == "file":
            return None, "The Hyper-V simulator has no script files; use -EncodedCommand.\r\n"
        index += 2 if takes_value else 1
    return "", None


def _run_powershell(
    runtime: HostRuntime, arguments: list[str], codepage: int, cancelled: threading.Event
) -> CommandOutcome:
    switches: set[str] = set()
    script, problem = _script_from_arguments(arguments, switches)
    if problem is not None:
        return CommandOutcome(b"", encode(problem, codepage), BAD_COMMAND_LINE_EXIT)
    _sleep(runtime.latency.startup(), cancelled)
    # WinRS's WINRS_NOPROFILE only concerns cmd.exe's user profile; powershell.exe still runs
    # profile.ps1 unless told -NoProfile (hyperv-real-host.md section 5 item 6, [S23]).
    profile = runtime.host.config.profile_output
    profile_stdout = profile.rstrip("\r\n") + "\r\n" if profile and "noprofile" not in switches else ""
    hook = _CmdletHook(runtime, cancelled)
    host = runtime.host
    interpreter = Interpreter(
        commands=command_table(host.config),
        context=host,
        before_cmdlet=hook,
        format_output=format_output,
        is_cancelled=cancelled.is_set,
        environment=_environment(host),
    )
    # The host's UI culture ($PSUICulture; hyperv-real-host.md section 3, missing check (e)).
    interpreter.variables["PSUICulture"] = host.config.language
    interpreter.variables["PSCulture"] = host.config.language
    try:
        result = interpreter.run(script or "")
    except CommandCancelled:
        return CommandOutcome(b"", b"", 1)
    shows_progress = (
        bool(interpreter.used_modules)
        and to_text(interpreter.variables["ProgressPreference"]).lower() != "silentlycontinue"
    )
    stderr = render_stderr(result.stderr, show_first_use_progress=shows_progress)
    return CommandOutcome(
        encode(profile_stdout + result.stdout, codepage),
        encode(stderr, codepage),
        result.exit_code,
        hook.transport_fault,
    )


class _CmdletHook:
    """Runs before every cmdlet: its latency, then any injected fault for it.

    Both sleep outside the host lock. A drop/http500 fault is remembered and applied when the
    command's result is collected (the cmdlet's effect still happens).
    """

    def __init__(self, runtime: HostRuntime, cancelled: threading.Event):
        self.runtime = runtime
        self.cancelled = cancelled
        self.transport_fault: FaultRule | None = None

    def __call__(self, spec: CmdletSpec, bound: dict[str, Any]) -> None:
        _sleep(self.runtime.latency.cmdlet(spec.name, bound, spec.implementing_type), self.cancelled)
        rule = self.runtime.faults.for_cmdlet(spec.name)
        if rule is None:
            return
        if rule.kind == "hang":
            _sleep(float("inf") if rule.seconds is None else rule.seconds, self.cancelled)
        elif rule.kind == "error":
            record = ErrorRecord(
                rule.message,
                "NotSpecified",
                f"InjectedFault,{spec.implementing_type}",
                "VirtualizationException",
                activity=spec.name,
            )
            raise CmdletError(record, terminating=True)
        elif self.transport_fault is None:
            self.transport_fault = rule


def _environment(host: Host) -> dict[str, str]:
    """``$env:`` of the remote powershell.exe."""
    return {
        "COMPUTERNAME": host.config.computer_name,
        "USERNAME": "Administrator",
        "USERDOMAIN": host.config.computer_name,
        "PROCESSOR_ARCHITECTURE": "AMD64",
        "SystemRoot": "C:\\Windows",
        "TEMP": "C:\\Users\\Administrator\\AppData\\Local\\Temp",
    }


def _sleep(seconds: float, cancelled: threading.Event) -> None:
    if seconds <= 0:
        return
    if cancelled.wait(None if seconds == float("inf") else seconds):
        raise CommandCancelled()


def format_output(value: Any) -> list[str]:
    """How the console host prints a pipeline object that reaches the end of the script.

    Strings and scalars print as text; objects print in list form ("Name : value"), which is what
    Format-List shows. (Real PowerShell picks a table for some types; scripts that need exact
    output use ConvertTo-Json, as Nestlab's do.)
    """
    if value is None:
        return []
    if isinstance(value, (PSObject, Hashtable)):
        pairs = list(value.properties.items()) if isinstance(value, PSObject) else list(value.items())
        if isinstance(value, PSObject) and value.display is not None and not pairs:
            return [value.display]
        width = max((len(to_text(key)) for key, _ in pairs), default=0)
        return [""] + [f"{to_text(key).ljust(width)} : {to_text(item)}" for key, item in pairs] + [""]
    return [to_text(value)]
