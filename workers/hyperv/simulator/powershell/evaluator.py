"""Walks the AST. One Interpreter runs one script (one ``powershell -EncodedCommand``)."""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import ast
from .binding import MISSING, CmdletSpec, bind_arguments
from .errors import (
    CmdletError,
    CommandCancelled,
    ErrorRecord,
    ExitRequest,
    ParseError,
    PowerShellError,
    ReturnRequest,
    ScriptTerminatingError,
    StatementTerminatingError,
)
from .operators import arithmetic, call_method, compare, get_member, runtime_error, set_member, to_number
from .parser import parse_script
from .values import EnumValue, Hashtable, PSObject, ScriptBlock, enumerate_value, to_bool, to_text, version

NO_INPUT = None  # a command first in its pipeline gets no input at all (not even an empty list)
_TYPE_ALIASES = {
    "string": "string",
    "system.string": "string",
    "int": "int",
    "int32": "int",
    "system.int32": "int",
    "long": "int",
    "int64": "int",
    "system.int64": "int",
    "uint64": "int",
    "bool": "bool",
    "boolean": "bool",
    "system.boolean": "bool",
    "double": "double",
    "system.double": "double",
    "array": "array",
    "object[]": "array",
    "string[]": "strings",
    "pscustomobject": "pscustomobject",
    "psobject": "pscustomobject",
    "hashtable": "hashtable",
    "ordered": "hashtable",
    "guid": "guid",
    "math": "math",
    "version": "version",
    # The elevation test a host doctor runs (docs/hyperv-real-host.md, section 3, missing check b):
    # ([Security.Principal.WindowsPrincipal][Security.Principal.WindowsIdentity]::GetCurrent()).IsInRole(
    #     [Security.Principal.WindowsBuiltInRole]::Administrator)
    "security.principal.windowsidentity": "windowsidentity",
    "system.security.principal.windowsidentity": "windowsidentity",
    "security.principal.windowsprincipal": "windowsprincipal",
    "system.security.principal.windowsprincipal": "windowsprincipal",
    "security.principal.windowsbuiltinrole": "windowsbuiltinrole",
    "system.security.principal.windowsbuiltinrole": "windowsbuiltinrole",
}
#: WindowsBuiltInRole.Administrator is the RID of BUILTIN\Administrators.
ADMINISTRATOR_ROLE = 544


@dataclass
class Invocation:
    """What a cmdlet handler receives."""

    spec: CmdletSpec
    arguments: dict[str, Any]
    input: list[Any] | None  # None when the cmdlet is first in its pipeline
    interpreter: Interpreter
    position: int
    end: int = 0
    sleep_after: float = 0.0  # set by a handler that must wait without holding the host lock

    def __contains__(self, name: str) -> bool:
        return name in self.arguments

    def get(self, name: str, default: Any = None) -> Any:
        return self.arguments.get(name, default)

    def error(
        self, message: str, *, category: str, error_id: str, exception: str, target: str = "", terminating: bool = False
    ) -> CmdletError:
        """An error to raise from a handler; the FullyQualifiedErrorId gets the cmdlet's type appended."""
        record = ErrorRecord(
            message,
            category,
            f"{error_id},{self.spec.implementing_type}",
            exception,
            activity=self.spec.name,
            target=target,
        )
        return CmdletError(record, terminating=terminating)

    def write_error(self, error: CmdletError) -> None:
        """A non-terminating error: the cmdlet goes on with its next input."""
        self.interpreter.write_error(error.record, self.arguments.get("ErrorAction"), self.position, self.end)

    def warn(self, text: str) -> None:
        if self.arguments.get("WarningAction") not in {"SilentlyContinue", "Ignore"}:
            self.interpreter.stderr.append(("warning", text))

    def run_block(self, block: ScriptBlock, current: Any) -> list[Any]:
        return self.interpreter.run_script_block(block, current)


@dataclass
class ExecutionResult:
    stdout: str
    stderr: list[tuple[str, Any]]  # ("Error" | "warning" | "progress", payload)
    exit_code: int


@dataclass
class Interpreter:
    commands: dict[str, CmdletSpec]  # lower-cased name or alias -> spec
    environment: dict[str, str] = field(default_factory=dict)
    before_cmdlet: Callable[[CmdletSpec, dict[str, Any]], None] = lambda spec, arguments: None
    format_output: Callable[[Any], list[str]] = lambda value: [] if value is None else [to_text(value)]
    is_cancelled: Callable[[], bool] = lambda: False
    context: Any = None  # what host cmdlets act on (the simulated Hyper-V host)

    def __post_init__(self) -> None:
        self.variables = Hashtable(
            [
                ("ErrorActionPreference", "Continue"),
                ("ProgressPreference", "Continue"),
                ("WarningPreference", "Continue"),
                ("VerbosePreference", "SilentlyContinue"),
                ("ConfirmPreference", "High"),
                ("Error", []),
                ("OFS", " "),
                ("PSVersionTable", Hashtable([("PSVersion", version("5.1.20348.2849")), ("PSEdition", "Desktop")])),
            ]
        )
        self.stdout_lines: list[str] = []
        self.stderr: list[tuple[str, Any]] = []
        self.script = ""
        self.try_depth = 0
        self.last_ok = True  # $?
        self.pipeline_errors: list[bool] = []  # per running pipeline, innermost last: did a command fail?
        self.used_modules: set[str] = set()

    # --- entry point --------------------------------------------------------------------------
    def run(self, script: str) -> ExecutionResult:
        self.script = script
        try:
            block = parse_script(script)
        except ParseError as error:
            self.stderr.append(("Error", error.to_record(script)))
            return self._result(1)
        try:
            for statement in block.statements:
                self._run_top_level(statement)
        except ScriptTerminatingError as error:
            self._report(error.record)
            return self._result(1)
        except ExitRequest as request:
            return self._result(request.code)
        except ReturnRequest:
            pass
        return self._result(0 if self.last_ok else 1)

    def _result(self, code: int) -> ExecutionResult:
        stdout = "".join(line + "\r\n" for line in self.stdout_lines)
        return ExecutionResult(stdout, self.stderr, code)

    def _run_top_level(self, statement: ast.Node) -> None:
        output: list[Any] = []
        try:
            self.run_statement_guarded(statement, output)
        finally:
            for value in output:
                self.stdout_lines.extend(self.format_output(value))

    def _report(self, record: ErrorRecord) -> None:
        if record.position is None:
            record.position = 0
        record.script = self.script
        self.stderr.append(("Error", record))
        self.variables["Error"] = [record] + list(self.variables["Error"])

    # --- errors -------------------------------------------------------------------------------
    def write_error(self, record: ErrorRecord, action: str | None, position: int, end: int | None = None) -> None:
        if record.position is None:
            record.position, record.extent_end = position, end
        record.script = self.script
        action = action or to_text(self.variables["ErrorActionPreference"])
        self.last_ok = False
        if self.pipeline_errors:
            self.pipeline_errors[-1] = True
        if action.lower() == "stop":
            raise StatementTerminatingError(record)
        if action.lower() in {"silentlycontinue", "ignore"}:
            if action.lower() == "silentlycontinue":
                self.variables["Error"] = [record] + list(self.variables["Error"])
            return
        self._report(record)

    def run_statement_guarded(self, statement: ast.Node, output: list[Any]) -> None:
        """Run one statement; a statement-terminating error stops only this statement (as in PowerShell)."""
        if self.is_cancelled():
            raise CommandCancelled()
        self.last_ok = True
        try:
            self.execute(statement, output)
        except (StatementTerminatingError, CmdletError) as error:
            if error.record.position is None:
                error.record.position = statement.pos
            self.last_ok = False
            if self.try_depth > 0:
                raise
            if to_text(self.variables["ErrorActionPreference"]).lower() == "stop":
                raise ScriptTerminatingError(error.record)
            self._report(error.record)

    def run_block(self, block: ast.StatementBlock, output: list[Any]) -> None:
        for statement in block.statements:
            self.run_statement_guarded(statement, output)

    def run_script_block(self, block: ScriptBlock, current: Any) -> list[Any]:
        """Run a script block in the current scope with ``$_`` set, as ForEach-Object and Where-Object do."""
        saved = self.variables.get("_", None), self.variables.get("PSItem", None)
        self.variables["_"] = current
        self.variables["PSItem"] = current
        output: list[Any] = []
        try:
            self.run_block(block.body, output)
        except ReturnRequest:
            pass
        finally:
            self.variables["_"], self.variables["PSItem"] = saved
        return output

    # --- statements ---------------------------------------------------------------------------
    def execute(self, node: ast.Node, output: list[Any]) -> None:
        method = getattr(self, f"execute_{type(node).__name__}", None)
        if method is None:
            output.extend(enumerate_value(self.evaluate(node)))
            return
        method(node, output)

    def execute_Pipeline(self, node: ast.Pipeline, output: list[Any]) -> None:
        """Run a pipeline. Afterwards ``$?`` is, as in PowerShell, true for a lone expression and
        otherwise false if a command of this pipeline (not of one nested in it) wrote an error,
        even a silenced one."""
        self.pipeline_errors.append(False)
        values: list[Any] | None = NO_INPUT
        try:
            for element in node.elements:
                if isinstance(element, ast.CommandExpression):
                    values = enumerate_value(self.evaluate(element.expression))
                else:
                    values = self.invoke_command(element, values)
        finally:
            failed = self.pipeline_errors.pop()
        lone_expression = len(node.elements) == 1 and isinstance(node.elements[0], ast.CommandExpression)
        self.last_ok = lone_expression or not failed
        output.extend(values or [])

    def execute_Assignment(self, node: ast.Assignment, output: list[Any]) -> None:
        value = self.statement_value(node.value)
        if node.operator != "=":
            value = arithmetic(node.operator[0], self.evaluate(node.target), value)
        target = node.target
        if isinstance(target, ast.Variable):
            self.set_variable(target.name, value)
        elif isinstance(target, ast.MemberAccess):
            set_member(self.evaluate(target.target), target.member, value)
        elif isinstance(target, ast.Index):
            container = self.evaluate(target.target)
            index = self.evaluate(target.index)
            if isinstance(container, Hashtable):
                container[index] = value
            elif isinstance(container, list):
                container[int(to_number(index))] = value
            else:
                raise runtime_error("Unable to index into an object of this type.", "CannotIndex")

    def execute_If(self, node: ast.If, output: list[Any]) -> None:
        for condition, block in node.clauses:
            if to_bool(self.statement_value(condition)):
                self.run_block(block, output)
                return
        if node.else_block is not None:
            self.run_block(node.else_block, output)

    def execute_Foreach(self, node: ast.Foreach, output: list[Any]) -> None:
        items = self.statement_value(node.iterable)
        for item in [] if items is None else enumerate_value(items):
            self.set_variable(node.variable, item)
            self.run_block(node.body, output)

    def execute_Try(self, node: ast.Try, output: list[Any]) -> None:
        try:
            self.try_depth += 1
            try:
                self.run_block(node.body, output)
            finally:
                self.try_depth -= 1
        except PowerShellError as error:
            if not node.catches:
                raise
            saved = self.variables.get("_", None)
            self.variables["_"] = error.record
            self.last_ok = True
            try:
                self.run_block(node.catches[0], output)
            finally:
                self.variables["_"] = saved
        finally:
            if node.finally_block is not None:
                self.run_block(node.finally_block, output)

    def execute_Throw(self, node: ast.Throw, output: list[Any]) -> None:
        value = self.statement_value(node.value) if node.value is not None else None
        if isinstance(value, ErrorRecord):
            raise ScriptTerminatingError(value)
        message = to_text(value) if value is not None else "ScriptHalted"
        raise ScriptTerminatingError(
            ErrorRecord(
                message,
                "OperationStopped",
                message,
                "RuntimeException",
                target=message,
                position=node.pos,
                extent_end=node.end,
            )
        )

    def execute_Return(self, node: ast.Return, output: list[Any]) -> None:
        if node.value is not None:
            self.execute(node.value, output)
        raise ReturnRequest()

    def execute_Exit(self, node: ast.Exit, output: list[Any]) -> None:
        code = self.statement_value(node.value) if node.value is not None else 0
        raise ExitRequest(int(to_number(code)))

    # --- commands -----------------------------------------------------------------------------
    def invoke_command(self, node: ast.Command, values: list[Any] | None) -> list[Any]:
        spec = self.commands.get(node.name.lower())
        if spec is None:
            raise StatementTerminatingError(
                ErrorRecord(
                    f"The term '{node.name}' is not recognized as the name of a cmdlet, function, script file, or "
                    "operable program. Check the spelling of the name, or if a path was included, verify that the path "
                    "is correct and try again.",
                    "ObjectNotFound",
                    "CommandNotFoundException",
                    "CommandNotFoundException",
                    target=node.name,
                    position=node.pos,
                    command_name=node.name,
                    extent_end=node.pos + len(node.name),
                )
            )
        elements: list[tuple[str, Any, Any]] = []
        for element in node.elements:
            if isinstance(element, ast.CommandParameter):
                value = MISSING if element.argument is None else self.evaluate(element.argument)
                elements.append(("parameter", element.name, value))
            else:
                elements.append(("argument", self.evaluate(element.value), None))
        try:
            arguments = bind_arguments(spec, elements, has_pipeline_input=values is not None)
        except StatementTerminatingError as error:
            error.record.position, error.record.extent_end = node.pos, node.end
            raise
        if values and not any(parameter.from_pipeline for parameter in spec.parameters):
            for _ in values:  # each piped object fails to bind; the cmdlet never processes it
                self.write_error(
                    ErrorRecord(
                        "The input object cannot be bound to any parameters for the command either because the command "
                        "does not take pipeline input or the input and its properties do not match any of the "
                        "parameters that take pipeline input.",
                        "InvalidArgument",
                        f"InputObjectNotBound,{spec.implementing_type}",
                        "ParameterBindingException",
                        activity=spec.name,
                    ),
                    arguments.get("ErrorAction"),
                    node.pos,
                    node.end,
                )
            return []
        if spec.module:
            self.used_modules.add(spec.module)
        self.before_cmdlet(spec, arguments)
        invocation = Invocation(spec, arguments, values, self, node.pos, node.end)
        try:
            result = spec.handler(invocation)
        except CmdletError as error:
            error.record.position, error.record.extent_end = node.pos, node.end
            if error.terminating:
                raise
            invocation.write_error(error)
            return []
        return list(result or [])

    # --- expressions --------------------------------------------------------------------------
    def statement_value(self, node: ast.Node) -> Any:
        """The value of a statement used as a value (assignment right side, condition, `( )`).

        A lone expression keeps its shape (``$x = @(1)`` stays an array); a pipeline's output
        collapses: nothing is $null, one object is that object, more are an array.
        """
        if (
            isinstance(node, ast.Pipeline)
            and len(node.elements) == 1
            and isinstance(node.elements[0], ast.CommandExpression)
        ):
            value = self.evaluate(node.elements[0].expression)
            self.last_ok = True  # an expression succeeded, whatever its inner pipelines did
            return value
        output: list[Any] = []
        self.execute(node, output)
        return collapse(output)

    def evaluate(self, node: ast.Node) -> Any:
        return getattr(self, f"eval_{type(node).__name__}")(node)

    def eval_Constant(self, node: ast.Constant) -> Any:
        return node.value

    def eval_ExpandableString(self, node: ast.ExpandableString) -> str:
        return "".join(part if isinstance(part, str) else to_text(self.evaluate(part)) for part in node.parts)

    def eval_Variable(self, node: ast.Variable) -> Any:
        return self.get_variable(node.name)

    def eval_SubExpression(self, node: ast.SubExpression) -> Any:
        output: list[Any] = []
        self.run_block(node.body, output)
        return collapse(output)

    def eval_ArrayExpression(self, node: ast.ArrayExpression) -> list[Any]:
        output: list[Any] = []
        self.run_block(node.body, output)
        return output

    def eval_Parenthesized(self, node: ast.Parenthesized) -> Any:
        return self.statement_value(node.pipeline)

    def eval_HashLiteral(self, node: ast.HashLiteral) -> Hashtable:
        table = Hashtable()
        for key_node, value_node in node.pairs:
            key = self.evaluate(key_node)
            if key in table:
                raise runtime_error(
                    f"Duplicate keys '{key}' are not allowed in hash literals.",
                    "DuplicateKeyInHashLiteral",
                    "ParserError",
                    "ParseException",
                )
            table[key] = self.statement_value(value_node)
        return table

    def eval_ArrayLiteral(self, node: ast.ArrayLiteral) -> list[Any]:
        return [self.evaluate(item) for item in node.items]

    def eval_ScriptBlockExpression(self, node: ast.ScriptBlockExpression) -> ScriptBlock:
        return ScriptBlock(node.body)

    def eval_MemberAccess(self, node: ast.MemberAccess) -> Any:
        if node.static:
            return self.static_member(self._type_of(node.target), node.member, None)
        return get_member(self.evaluate(node.target), node.member)

    def eval_MethodCall(self, node: ast.MethodCall) -> Any:
        arguments = [self.evaluate(argument) for argument in node.arguments]
        if node.static:
            return self.static_member(self._type_of(node.target), node.method, arguments)
        return call_method(self.evaluate(node.target), node.method, arguments)

    def eval_Index(self, node: ast.Index) -> Any:
        target = self.evaluate(node.target)
        index = self.evaluate(node.index)
        if isinstance(target, Hashtable):
            return target.get(index)
        if isinstance(target, (list, str)):
            position = int(to_number(index))
            return target[position] if -len(target) <= position < len(target) else None
        if target is None:
            raise runtime_error("Cannot index into a null array.", "NullArray")
        return target if int(to_number(index)) in (0, -1) else None

    def eval_Unary(self, node: ast.Unary) -> Any:
        value = self.evaluate(node.operand)
        if node.operator == "not":
            return not to_bool(value)
        if node.operator == "-":
            return -to_number(value)
        if node.operator == "join":
            return "".join(to_text(item) for item in enumerate_value(value))
        if node.operator == "split":
            return to_text(value).split()
        return to_number(value)

    def eval_Binary(self, node: ast.Binary) -> Any:
        if node.operator in {"and", "or"}:
            left = to_bool(self.evaluate(node.left))
            if node.operator == "and":
                return left and to_bool(self.evaluate(node.right))
            return left or to_bool(self.evaluate(node.right))
        left = self.evaluate(node.left)
        right = self.evaluate(node.right)
        if node.operator == "xor":
            return to_bool(left) != to_bool(right)
        if node.operator in {"+", "-", "*", "/", "%"}:
            return arithmetic(node.operator, left, right)
        if node.operator == "..":
            start, end = int(to_number(left)), int(to_number(right))
            step = 1 if end >= start else -1
            return list(range(start, end + step, step))
        return compare(node.operator, left, right, self.variables)

    def eval_Cast(self, node: ast.Cast) -> Any:
        return self.cast(node.type_name, self.evaluate(node.operand))

    def eval_TypeLiteral(self, node: ast.TypeLiteral) -> Any:
        self._resolve_type(node.type_name)
        return PSObject(
            "System.RuntimeType", {"Name": node.type_name, "FullName": node.type_name}, display=node.type_name
        )

    # --- types --------------------------------------------------------------------------------
    def _resolve_type(self, name: str) -> str:
        kind = _TYPE_ALIASES.get(name.lower())
        if kind is None:
            raise runtime_error(f"Unable to find type [{name}].", "TypeNotFound", "InvalidOperation")
        return kind

    def _type_of(self, node: ast.Node) -> str:
        if not isinstance(node, ast.TypeLiteral):
            raise runtime_error(
                "Static members are only supported on type literals by the Hyper-V simulator.",
                "UnsupportedStaticMember",
            )
        return self._resolve_type(node.type_name)

    def cast(self, type_name: str, value: Any) -> Any:
        kind = self._resolve_type(type_name)
        if kind == "string":
            return to_text(value)
        if kind == "int":
            number = to_number(value, for_type="System.Int32")
            return int(math.floor(number + 0.5)) if isinstance(number, float) else number
        if kind == "double":
            return float(to_number(value, for_type="System.Double"))
        if kind == "bool":
            return to_bool(value)
        if kind == "windowsprincipal" and isinstance(value, PSObject) and value.type_name.endswith("WindowsIdentity"):
            return PSObject("System.Security.Principal.WindowsPrincipal", {}, ref=value.ref)
        if kind == "array":
            return [] if value is None else list(enumerate_value(value))
        if kind == "strings":
            return [to_text(item) for item in enumerate_value(value)]
        if kind == "pscustomobject":
            if isinstance(value, Hashtable):
                return PSObject("System.Management.Automation.PSCustomObject", Hashtable(list(value.items())))
            return value
        if kind == "hashtable":
            if not isinstance(value, Hashtable):
                raise runtime_error(
                    f'Cannot convert "{to_text(value)}" to "System.Collections.Hashtable".',
                    "ConvertToFinalInvalidCastException",
                    "InvalidArgument",
                )
            return value
        if kind == "guid":
            return str(uuid.UUID(to_text(value)))
        if kind == "version":
            return version(to_text(value))
        raise runtime_error(f"Cannot convert to [{type_name}].", "InvalidCast", "InvalidArgument")

    def static_member(self, kind: str, name: str, arguments: list[Any] | None) -> Any:
        lowered = name.lower()
        args = arguments or []
        if kind == "string" and lowered in {"isnullorempty", "isnullorwhitespace"} and len(args) == 1:
            text = to_text(args[0])
            return text == "" if lowered == "isnullorempty" else text.strip() == ""
        if kind == "string" and lowered == "join" and len(args) == 2:
            return to_text(args[0]).join(to_text(item) for item in enumerate_value(args[1]))
        if kind == "math" and lowered in {"round", "floor", "ceiling", "max", "min", "abs"} and args:
            numbers = [to_number(arg) for arg in args]
            if lowered == "round":
                digits = int(numbers[1]) if len(numbers) > 1 else 0
                return round(numbers[0], digits) if digits else int(round(numbers[0]))
            return {
                "floor": lambda: math.floor(numbers[0]),
                "ceiling": lambda: math.ceil(numbers[0]),
                "max": lambda: max(numbers),
                "min": lambda: min(numbers),
                "abs": lambda: abs(numbers[0]),
            }[lowered]()
        if kind == "windowsidentity" and lowered == "getcurrent" and arguments == []:
            # The host says whether the caller's token is a full (elevated) administrator token;
            # a local non-domain admin over WinRM gets a filtered one (UAC remote restrictions).
            is_admin = bool(getattr(self.context, "token_is_admin", True))
            return PSObject("System.Security.Principal.WindowsIdentity", {"IsAuthenticated": True}, ref=is_admin)
        if kind == "windowsbuiltinrole" and lowered == "administrator" and arguments is None:
            return EnumValue("System.Security.Principal.WindowsBuiltInRole", "Administrator", ADMINISTRATOR_ROLE)
        if kind == "guid" and lowered == "newguid" and arguments == []:
            return str(uuid.uuid4())
        if kind == "int" and lowered in {"maxvalue", "minvalue"} and arguments is None:
            return 2**31 - 1 if lowered == "maxvalue" else -(2**31)
        raise runtime_error(
            f"Method invocation failed because [{kind}] does not contain a method named '{name}'.", "MethodNotFound"
        )

    # --- variables ----------------------------------------------------------------------------
    def get_variable(self, name: str) -> Any:
        lowered = name.lower()
        if lowered in {"true", "false", "null"}:
            return {"true": True, "false": False, "null": None}[lowered]
        if lowered == "?":
            return self.last_ok
        if lowered.startswith("env:"):
            key = name[4:].lower()
            return next((value for env_key, value in self.environment.items() if env_key.lower() == key), None)
        for prefix in ("global:", "script:", "local:", "private:"):
            if lowered.startswith(prefix):
                name = name[len(prefix) :]
        return self.variables.get(name)

    def set_variable(self, name: str, value: Any) -> None:
        lowered = name.lower()
        if lowered in {"true", "false", "null", "?"}:
            if lowered == "null":
                return  # `$null = ...` discards, as in PowerShell
            raise runtime_error(
                f"Cannot overwrite variable {name} because it is read-only or constant.",
                "VariableNotWritable",
                "WriteError",
                "SessionStateUnauthorizedAccessException",
            )
        for prefix in ("global:", "script:", "local:", "private:"):
            if lowered.startswith(prefix):
                name = name[len(prefix) :]
        self.variables[name] = value


def collapse(output: list[Any]) -> Any:
    if not output:
        return None
    return output[0] if len(output) == 1 else output
