"""Cmdlet declarations and PowerShell's parameter binding.

Every cmdlet is declared with its parameters (names, aliases, types, positions), so an unknown
parameter fails with PowerShell's own error text instead of being silently ignored, and prefixes
resolve the way PowerShell resolves them (``-Conf`` is ``-Confirm``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .errors import ErrorRecord, StatementTerminatingError
from .values import EnumValue, ScriptBlock, to_bool, to_text

MISSING = object()


@dataclass(frozen=True)
class Parameter:
    name: str
    kind: str = "string"  # string | strings | int | bool | switch | choice | scriptblock | any
    position: int | None = None
    aliases: tuple[str, ...] = ()
    choices: tuple[str, ...] = ()  # for kind="choice": the enum members or ValidateSet values
    type_name: str = "System.String"  # shown in conversion errors
    minimum: int | None = None
    maximum: int | None = None
    mandatory: bool = False
    from_pipeline: bool = False
    alternatives: tuple[str, ...] = ()  # other parameter sets: mandatory is met if one of these is bound
    takes_remaining_arguments: bool = False  # ValueFromRemainingArguments: extra positionals become a list


COMMON_PARAMETERS = (
    Parameter(
        "ErrorAction",
        "choice",
        aliases=("ea",),
        type_name="System.Management.Automation.ActionPreference",
        choices=("SilentlyContinue", "Stop", "Continue", "Inquire", "Ignore", "Suspend"),
    ),
    Parameter(
        "WarningAction",
        "choice",
        aliases=("wa",),
        type_name="System.Management.Automation.ActionPreference",
        choices=("SilentlyContinue", "Stop", "Continue", "Inquire", "Ignore", "Suspend"),
    ),
    Parameter(
        "InformationAction",
        "choice",
        aliases=("infa",),
        type_name="System.Management.Automation.ActionPreference",
        choices=("SilentlyContinue", "Stop", "Continue", "Inquire", "Ignore", "Suspend"),
    ),
    Parameter("Verbose", "switch", aliases=("vb",)),
    Parameter("Debug", "switch", aliases=("db",)),
    Parameter("ErrorVariable", aliases=("ev",)),
    Parameter("WarningVariable", aliases=("wv",)),
    Parameter("OutVariable", aliases=("ov",)),
    Parameter("OutBuffer", "int", aliases=("ob",)),
)
SHOULD_PROCESS_PARAMETERS = (
    Parameter("WhatIf", "switch", aliases=("wi",)),
    Parameter("Confirm", "switch", aliases=("cf",)),
)


@dataclass(frozen=True)
class CmdletSpec:
    name: str
    handler: Callable[..., list[Any] | None]
    parameters: tuple[Parameter, ...]
    implementing_type: str  # e.g. Microsoft.HyperV.PowerShell.Commands.GetVM, for FullyQualifiedErrorId
    should_process: bool = False
    aliases: tuple[str, ...] = ()
    module: str = ""  # "Hyper-V" for cmdlets that exist only with the role installed
    all_parameters: tuple[Parameter, ...] = field(init=False)

    def __post_init__(self) -> None:
        extra = COMMON_PARAMETERS + (SHOULD_PROCESS_PARAMETERS if self.should_process else ())
        object.__setattr__(self, "all_parameters", self.parameters + extra)


def binding_error(
    spec: CmdletSpec, message: str, error_id: str, category: str = "InvalidArgument", target: str = ""
) -> StatementTerminatingError:
    return StatementTerminatingError(
        ErrorRecord(
            message,
            category,
            f"{error_id},{spec.implementing_type}",
            "ParameterBindingException",
            activity=spec.name,
            target=target,
        )
    )


def resolve_parameter(spec: CmdletSpec, written: str) -> Parameter:
    lowered = written.lower()
    for parameter in spec.all_parameters:
        if parameter.name.lower() == lowered or lowered in parameter.aliases:
            return parameter
    matches = [p for p in spec.all_parameters if p.name.lower().startswith(lowered)]
    if len(matches) == 1:
        return matches[0]
    if matches:
        names = ", ".join(p.name for p in matches)
        raise binding_error(
            spec,
            f"Parameter cannot be processed because the parameter name '{written}' is ambiguous. "
            f"Possible matches include: -{names.replace(', ', ' -')}.",
            "AmbiguousParameter",
        )
    raise binding_error(
        spec, f"A parameter cannot be found that matches parameter name '{written}'.", "NamedParameterNotFound"
    )


def convert_argument(spec: CmdletSpec, parameter: Parameter, value: Any) -> Any:
    """Convert a bound value to the parameter's type, with PowerShell's error texts when it cannot."""
    kind = parameter.kind
    if kind == "any":
        return value
    if kind == "switch":
        return to_bool(value)
    if kind == "scriptblock":
        return _to_scriptblock(spec, parameter, value)
    if kind == "strings":
        return [to_text(item) for item in (value if isinstance(value, list) else [value])]
    if isinstance(value, list):
        if len(value) != 1:
            raise binding_error(
                spec,
                f"Cannot convert 'System.Object[]' to the type '{parameter.type_name}' required by "
                f"parameter '{parameter.name}'. Specified method is not supported.",
                "CannotConvertArgument",
            )
        value = value[0]
    converter = {"bool": _to_bool_parameter, "int": _to_int, "choice": _to_choice}.get(kind)
    return converter(spec, parameter, value) if converter else to_text(value)


def _to_scriptblock(spec: CmdletSpec, parameter: Parameter, value: Any) -> ScriptBlock:
    if not isinstance(value, ScriptBlock):
        raise binding_error(
            spec,
            f"Cannot bind parameter '{parameter.name}'. Cannot convert the \"{to_text(value)}\" "
            'value of type "System.String" to type "System.Management.Automation.ScriptBlock".',
            "CannotConvertArgument",
        )
    return value


def _to_bool_parameter(spec: CmdletSpec, parameter: Parameter, value: Any) -> bool:
    """Boolean parameters take only booleans and numbers: ``-Enabled 'false'`` is an error."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return value != 0
    shown = "System.String" if isinstance(value, str) else to_text(value)
    raise binding_error(
        spec,
        f"Cannot process argument transformation on parameter '{parameter.name}'. Cannot convert value "
        f'"{shown}" to type "System.Boolean". Boolean parameters accept only Boolean values and numbers, '
        "such as $True, $False, 1 or 0.",
        "ParameterArgumentTransformationError",
    )


def _to_int(spec: CmdletSpec, parameter: Parameter, value: Any) -> int:
    number = _integer(value)
    if number is None:
        type_name = parameter.type_name if parameter.type_name != "System.String" else "System.Int64"
        raise binding_error(
            spec,
            f"Cannot bind parameter '{parameter.name}'. Cannot convert value \"{to_text(value)}\" to type "
            f'"{type_name}". Error: "Input string was not in a correct format."',
            "CannotConvertArgumentNoMessage",
        )
    if parameter.minimum is not None and number < parameter.minimum:
        raise binding_error(
            spec,
            f"Cannot validate argument on parameter '{parameter.name}'. The {number} argument is less than the "
            f"minimum allowed range of {parameter.minimum}. Supply an argument that is greater than or equal to "
            f"{parameter.minimum} and then try the command again.",
            "ParameterArgumentValidationError",
        )
    if parameter.maximum is not None and number > parameter.maximum:
        raise binding_error(
            spec,
            f"Cannot validate argument on parameter '{parameter.name}'. The {number} argument is greater than the "
            f"maximum allowed range of {parameter.maximum}. Supply an argument that is less than or equal to "
            f"{parameter.maximum} and then try the command again.",
            "ParameterArgumentValidationError",
        )
    return number


def _to_choice(spec: CmdletSpec, parameter: Parameter, value: Any) -> str:
    """An enum or ValidateSet value, matched case-insensitively and returned as declared."""
    text = value.name if isinstance(value, EnumValue) else to_text(value)
    for choice in parameter.choices:
        if choice.lower() == text.lower():
            return choice
    raise binding_error(
        spec,
        f"Cannot bind parameter '{parameter.name}'. Cannot convert value \"{text}\" to type "
        f'"{parameter.type_name}". Error: "Unable to match the identifier name {text} to a valid enumerator '
        "name. Specify one of the following enumerator names and try again:\n" + ", ".join(parameter.choices) + '"',
        "CannotConvertArgumentNoMessage",
    )


def _integer(value: Any) -> int | None:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(round(value))
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    if isinstance(value, EnumValue):
        return value.value
    return None


def bind_arguments(
    spec: CmdletSpec, elements: list[tuple[str, Any, Any]], *, has_pipeline_input: bool
) -> dict[str, Any]:
    """Bind evaluated command elements to the cmdlet's parameters.

    ``elements`` are ("parameter", written_name, colon_value_or_MISSING) and ("argument", value, None).
    """
    bound: dict[str, Any] = {}
    positional: list[Any] = []
    index = 0
    while index < len(elements):
        kind, first, second = elements[index]
        index += 1
        if kind == "argument":
            positional.append(first)
            continue
        parameter = resolve_parameter(spec, first)
        if parameter.kind == "switch":
            value = True if second is MISSING else second
        elif second is not MISSING:
            value = second
        elif index < len(elements) and elements[index][0] == "argument":
            value = elements[index][1]
            index += 1
        else:
            type_name = {
                "bool": "System.Boolean",
                "int": "System.Int64",
                "strings": "System.String[]",
                "scriptblock": "System.Management.Automation.ScriptBlock",
            }.get(parameter.kind, parameter.type_name)
            raise binding_error(
                spec,
                f"Missing an argument for parameter '{parameter.name}'. Specify a parameter of type "
                f"'{type_name}' and try again.",
                "MissingArgument",
            )
        if parameter.name in bound:
            raise binding_error(
                spec,
                f"Cannot bind parameter because parameter '{parameter.name}' is specified more than "
                "once. To provide multiple values to parameters that can accept multiple values, use "
                'the array syntax. For example, "-parameter value1,value2,value3".',
                "ParameterAlreadyBound",
            )
        bound[parameter.name] = convert_argument(spec, parameter, value)
    positional_parameters = sorted((p for p in spec.parameters if p.position is not None), key=lambda p: p.position)
    remaining = next((p for p in spec.parameters if p.takes_remaining_arguments), None)
    for index, value in enumerate(positional):
        slot = _positional_slot(positional_parameters, bound, value)
        if slot is not None and slot is remaining and len(positional) - index > 1:
            bound[slot.name] = convert_argument(spec, slot, positional[index:])  # Write-Host a b c
            break
        if slot is None:
            raise binding_error(
                spec,
                f"A positional parameter cannot be found that accepts argument '{to_text(value)}'.",
                "PositionalParameterNotFound",
            )
        bound[slot.name] = convert_argument(spec, slot, value)
    missing = [
        p.name
        for p in spec.parameters
        if p.mandatory
        and p.name not in bound
        and not (p.from_pipeline and has_pipeline_input)
        and not any(name in bound for name in p.alternatives)
    ]
    if missing:
        raise binding_error(
            spec,
            f"Cannot process command because of one or more missing mandatory parameters: {' '.join(missing)}.",
            "MissingMandatoryParameter",
        )
    return bound


def _positional_slot(parameters: list[Parameter], bound: dict[str, Any], value: Any) -> Parameter | None:
    """The next free position's parameter. A position is taken once any parameter declared there is
    bound (by name or by position), as parameter sets make it in PowerShell: after ``-Property Name``
    the next positional value of Where-Object is its Value. Where two parameters share a position
    (FilterScript and Property), a script block goes to the script-block one, anything else to the other."""
    taken = {p.position for p in parameters if p.name in bound}
    free = [p for p in parameters if p.position not in taken]
    if not free:
        return None
    same_position = [p for p in free if p.position == free[0].position]
    wants_block = isinstance(value, ScriptBlock)
    preferred = [p for p in same_position if (p.kind == "scriptblock") == wants_block]
    return (preferred or same_position)[0]
