"""PowerShell errors: error records, and the Python exceptions that carry them through the evaluator.

PowerShell has three kinds of error, and the difference is visible to a caller:
- *non-terminating* (a cmdlet writes an error and the statement goes on);
- *statement-terminating* (a cmdlet cannot run at all: unknown command, bad parameter; the script
  continues with the next statement);
- *script-terminating* (``throw``, or any error under ``-ErrorAction Stop``).
Inside ``try`` every terminating error is caught; ``$ErrorActionPreference = 'Stop'`` makes
non-terminating errors terminating.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .values import PSObject


@dataclass
class ErrorRecord:
    """What PowerShell prints for an error, and what ``$_`` is inside ``catch``."""

    message: str
    category: str = "NotSpecified"  # CategoryInfo.Category, e.g. ObjectNotFound, InvalidArgument
    error_id: str = ""  # FullyQualifiedErrorId
    exception_type: str = "RuntimeException"
    activity: str = ""  # the cmdlet name, shown in CategoryInfo as [Get-VM]
    target: str = ""  # the target object's text, shown as (target:String)
    target_type: str = "String"
    position: int | None = None  # offset in the script, for "At line:N char:M"
    extent_end: int | None = None  # end of the failing command's text, for the ~~~ under it
    script: str = ""
    is_parse_error: bool = False
    command_name: str = ""  # printed before the message; defaults to the activity
    shows_position: bool = True  # False for Write-Error, whose record points at the script itself

    @property
    def category_info(self) -> str:
        target = f"{self.target}:{self.target_type}" if self.target else ":"
        return f"{self.category}: ({target}) [{self.activity}], {self.exception_type}"


class PowerShellError(Exception):
    """Base of errors raised while running a script. ``record`` is what gets printed or caught."""

    def __init__(self, record: ErrorRecord):
        super().__init__(record.message)
        self.record = record


class ParseError(Exception):
    """A syntax error: PowerShell refuses to run any of the script."""

    def __init__(self, message: str, position: int, error_id: str):
        super().__init__(message)
        self.message = message
        self.position = position
        self.error_id = error_id

    def to_record(self, script: str) -> ErrorRecord:
        return ErrorRecord(
            message=self.message,
            category="ParserError",
            error_id=self.error_id,
            exception_type="ParentContainsErrorRecordException",
            position=self.position,
            script=script,
            is_parse_error=True,
        )


class CmdletError(PowerShellError):
    """A cmdlet reports an error. ``terminating`` means ThrowTerminatingError (statement-terminating)."""

    def __init__(self, record: ErrorRecord, *, terminating: bool = False):
        super().__init__(record)
        self.terminating = terminating


class StatementTerminatingError(PowerShellError):
    """Unknown command, parameter binding failure, runtime exception in an expression."""


class ScriptTerminatingError(PowerShellError):
    """``throw``, or an error promoted by ``-ErrorAction Stop`` / ``$ErrorActionPreference = 'Stop'``."""


class CommandCancelled(Exception):
    """The client signalled the command (Ctrl+C / terminate), or the simulator is going down."""


@dataclass
class ExitRequest(Exception):
    """The ``exit`` statement."""

    code: int = 0
    extra: dict = field(default_factory=dict)


class ReturnRequest(Exception):
    """The ``return`` statement: stop the current script block."""


def line_and_column(script: str, position: int) -> tuple[int, int, str]:
    """1-based line and column of ``position``, and the text of that line."""
    line_start = script.rfind("\n", 0, position) + 1
    line_end = script.find("\n", position)
    line_text = script[line_start : len(script) if line_end < 0 else line_end].rstrip("\r")
    return script.count("\n", 0, position) + 1, position - line_start + 1, line_text


def format_error(record: ErrorRecord) -> list[str]:
    """The lines Windows PowerShell 5.1 prints for an error record on a non-console host."""
    lines: list[str] = []
    position_lines: list[str] = []
    if record.position is not None and record.script and record.shows_position:
        line, column, text = line_and_column(record.script, record.position)
        width = max(1, min((record.extent_end or record.position + 1) - record.position, len(text) - column + 1))
        position_lines = [f"At line:{line} char:{column}", f"+ {text}", "+ " + " " * (column - 1) + "~" * width]
    if record.is_parse_error:
        lines.extend(position_lines)
        lines.append(record.message)
    else:
        name = record.command_name or record.activity
        prefix = f"{name} : " if name else ""
        message_lines = record.message.split("\n")
        lines.append(prefix + message_lines[0])
        lines.extend(message_lines[1:])
        lines.extend(position_lines)
    lines.append(f"    + CategoryInfo          : {record.category_info}")
    lines.append(f"    + FullyQualifiedErrorId : {record.error_id}")
    return [wrapped for line in lines for wrapped in wrap_console_line(line)] + [" "]


CONSOLE_LINE = 78  # powershell.exe over WinRM wraps at its 80-column buffer (see winrm-recorded)
CONTINUATION_INDENT = "   "


def wrap_console_line(line: str) -> list[str]:
    """Break a long line as the host does: the piece ends with a space, the rest is indented."""
    if len(line) <= CONSOLE_LINE:
        return [line]
    pieces = [line[:CONSOLE_LINE] + " "]
    rest = line[CONSOLE_LINE:]
    room = CONSOLE_LINE - len(CONTINUATION_INDENT)
    while len(rest) > room:
        pieces.append(CONTINUATION_INDENT + rest[:room] + " ")
        rest = rest[room:]
    pieces.append(CONTINUATION_INDENT + rest)
    return pieces


def error_record_member(record: ErrorRecord, name: str):
    """``$_.Exception.Message`` and friends, for an error record caught in ``catch``."""
    lowered = name.lower()
    if lowered == "exception":
        return PSObject(
            f"System.Management.Automation.{record.exception_type}", {"Message": record.message}, display=record.message
        )
    if lowered == "fullyqualifiederrorid":
        return record.error_id
    if lowered == "categoryinfo":
        return PSObject(
            "System.Management.Automation.ErrorCategoryInfo",
            {
                "Category": record.category,
                "Activity": record.activity,
                "Reason": record.exception_type,
                "TargetName": record.target,
                "TargetType": record.target_type,
            },
            display=record.category_info,
        )
    if lowered == "targetobject":
        return record.target or None
    return None


ErrorRecord.ps_member = error_record_member  # type: ignore[attr-defined]
ErrorRecord.__str__ = lambda self: self.message  # type: ignore[method-assign]
