"""The built-in (Microsoft.PowerShell.*) cmdlets of the subset: pipeline shaping and output."""

from __future__ import annotations

import time
from typing import Any

from .binding import CmdletSpec, Parameter
from .errors import ErrorRecord
from .evaluator import Invocation
from .json_format import convert_to_json
from .operators import compare, get_member, to_number, wildcard_match
from .values import Hashtable, PSObject, ScriptBlock, to_bool, to_text

UTILITY = "Microsoft.PowerShell.Commands"
CUSTOM_OBJECT = "System.Management.Automation.PSCustomObject"


def _input(invocation: Invocation) -> list[Any]:
    if "InputObject" in invocation:
        value = invocation.get("InputObject")
        return [value]
    return invocation.input or []


def where_object(invocation: Invocation) -> list[Any]:
    block = invocation.get("FilterScript")
    if isinstance(block, ScriptBlock):
        return [item for item in _input(invocation) if to_bool(_collapse(invocation.run_block(block, item)))]
    name = invocation.get("Property")
    operators = [
        op
        for op in ("EQ", "NE", "GT", "GE", "LT", "LE", "Like", "NotLike", "Match", "NotMatch", "Contains", "In")
        if op in invocation
    ]
    if name is None:
        raise invocation.error(
            "The specified operator requires both the -Property and -Value parameters. Supply both "
            "parameters and retry.",
            category="InvalidArgument",
            error_id="ValueNotSpecifiedForWhereObject",
            exception="PSArgumentException",
            terminating=True,
        )
    value = invocation.get("Value")
    if not operators:
        return [item for item in _input(invocation) if to_bool(get_member(item, name))]
    operator = operators[0].lower()
    return [
        item for item in _input(invocation) if compare(operator, get_member(item, name), value, Hashtable()) is True
    ]


def _collapse(values: list[Any]) -> Any:
    return None if not values else values[0] if len(values) == 1 else values


def _property_values(invocation: Invocation, item: Any, specs: list[Any]) -> list[tuple[str, Any]]:
    pairs: list[tuple[str, Any]] = []
    for spec in specs:
        if isinstance(spec, Hashtable):
            label = next((spec[k] for k in ("Name", "Label", "N", "L") if k in spec), None)
            expression = next((spec[k] for k in ("Expression", "E") if k in spec), None)
            if label is None or expression is None:
                raise invocation.error(
                    "The Expression and Name keys are required in a calculated property.",
                    category="InvalidArgument",
                    error_id="DictionaryKeyMissing",
                    exception="NotSupportedException",
                    terminating=True,
                )
            if isinstance(expression, ScriptBlock):
                value = _collapse(invocation.run_block(expression, item))
            else:
                value = get_member(item, to_text(expression))
            pairs.append((to_text(label), value))
            continue
        name = to_text(spec)
        if "*" in name or "?" in name:
            names = _property_names(item)
            pairs.extend((n, get_member(item, n)) for n in names if wildcard_match(n, name))
        else:
            pairs.append((name, get_member(item, name)))
    return pairs


def _property_names(item: Any) -> list[str]:
    if isinstance(item, PSObject):
        return [key for key, _ in item.properties.items()]
    if isinstance(item, Hashtable):
        return [to_text(key) for key in item.keys()]
    return []


def select_object(invocation: Invocation) -> list[Any]:
    items = _input(invocation)
    if "Skip" in invocation:
        items = items[invocation.get("Skip") :]
    if "First" in invocation:
        items = items[: invocation.get("First")]
    if "Last" in invocation:
        items = items[-invocation.get("Last") :] if invocation.get("Last") else []
    expand = invocation.get("ExpandProperty")
    properties = invocation.get("Property")
    output: list[Any] = []
    for item in items:
        if expand is not None:
            value = get_member(item, expand)
            if value is None and not (
                isinstance(item, (PSObject, Hashtable))
                and expand in (item.properties if isinstance(item, PSObject) else item)
            ):
                invocation.write_error(
                    invocation.error(
                        f'Property "{expand}" cannot be found.',
                        category="InvalidArgument",
                        error_id="ExpandPropertyNotFound",
                        exception="PSArgumentException",
                        target=to_text(item),
                    )
                )
                continue
            output.extend(value if isinstance(value, list) else [value])
        elif properties is not None:
            specs = properties if isinstance(properties, list) else [properties]
            output.append(PSObject(CUSTOM_OBJECT, Hashtable(_property_values(invocation, item, specs))))
        else:
            output.append(item)
    if invocation.get("Unique"):
        unique: list[Any] = []
        for item in output:
            if not any(to_text(item) == to_text(seen) for seen in unique):
                unique.append(item)
        output = unique
    return output


def foreach_object(invocation: Invocation) -> list[Any]:
    output: list[Any] = []
    begin, process, end = invocation.get("Begin"), invocation.get("Process"), invocation.get("End")
    member = invocation.get("MemberName")
    if begin is not None:
        output.extend(invocation.run_block(begin, None))
    for item in _input(invocation):
        if member is not None:
            value = get_member(item, member)
            output.extend(value if isinstance(value, list) else [value])
        elif process is not None:
            output.extend(invocation.run_block(process, item))
    if end is not None:
        output.extend(invocation.run_block(end, None))
    return output


def measure_object(invocation: Invocation) -> list[Any]:
    items = [item for item in _input(invocation) if item is not None] if invocation.input is not None else []
    name = invocation.get("Property")
    values = [get_member(item, name) for item in items] if name else items
    result: dict[str, Any] = {
        "Count": len(values),
        "Average": None,
        "Sum": None,
        "Maximum": None,
        "Minimum": None,
        "Property": name,
    }
    numbers = (
        [to_number(value) for value in values if value is not None]
        if any(invocation.get(k) for k in ("Sum", "Average", "Maximum", "Minimum"))
        else []
    )
    if invocation.get("Sum"):
        result["Sum"] = float(sum(numbers))
    if invocation.get("Average"):
        result["Average"] = float(sum(numbers) / len(numbers)) if numbers else None
    if invocation.get("Maximum"):
        result["Maximum"] = float(max(numbers)) if numbers else None
    if invocation.get("Minimum"):
        result["Minimum"] = float(min(numbers)) if numbers else None
    return [PSObject("Microsoft.PowerShell.Commands.GenericMeasureInfo", result)]


def sort_object(invocation: Invocation) -> list[Any]:
    items = list(_input(invocation))
    name = invocation.get("Property")

    def key(item: Any) -> tuple[int, Any]:
        value = get_member(item, name) if name else item
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return (0, value)
        return (1, to_text(value).lower())

    items.sort(key=key, reverse=bool(invocation.get("Descending")))
    return items


def convertto_json(invocation: Invocation) -> list[Any]:
    depth = invocation.get("Depth", 2)
    compress = bool(invocation.get("Compress"))
    if "InputObject" in invocation:
        return [convert_to_json(invocation.get("InputObject"), depth=depth, compress=compress)]
    items = invocation.input or []
    if not items:
        return []  # `@() | ConvertTo-Json` prints nothing at all
    return [convert_to_json(items[0] if len(items) == 1 else items, depth=depth, compress=compress)]


def out_null(invocation: Invocation) -> list[Any]:
    return []


def out_string(invocation: Invocation) -> list[Any]:
    lines: list[str] = []
    for item in _input(invocation):
        lines.extend(invocation.interpreter.format_output(item))
    return ["".join(line + "\r\n" for line in lines)]


def write_output(invocation: Invocation) -> list[Any]:
    if "InputObject" not in invocation:
        return list(invocation.input or [])
    value = invocation.get("InputObject")
    return value if isinstance(value, list) else [value]


def write_host(invocation: Invocation) -> list[Any]:
    """powershell.exe over WinRM has no console: host output goes to stdout, one line per call
    (or per piped object)."""
    objects = [invocation.get("Object")] if "Object" in invocation else list(invocation.input or [None])
    for value in objects:
        text = " ".join(to_text(item) for item in (value if isinstance(value, list) else [value]))
        invocation.interpreter.stdout_lines.append(text)
    return []


def write_warning(invocation: Invocation) -> list[Any]:
    invocation.warn(to_text(invocation.get("Message")))
    return []


def write_error(invocation: Invocation) -> list[Any]:
    """As recorded from a real host: the error is attributed to the script itself (its text is the
    prefix, ``Write-Error "Error" : Error``) and carries no position."""
    message = to_text(invocation.get("Message"))
    record = ErrorRecord(
        message,
        invocation.get("Category", "NotSpecified"),
        f"{invocation.get('ErrorId') or 'Microsoft.PowerShell.Commands.WriteErrorException'}",
        "WriteErrorException",
        activity="Write-Error",
        command_name=invocation.interpreter.script.strip(),
        shows_position=False,
    )
    invocation.interpreter.write_error(record, invocation.get("ErrorAction"), invocation.position)
    return []


def write_verbose(invocation: Invocation) -> list[Any]:
    return []


def start_sleep(invocation: Invocation) -> list[Any]:
    seconds = invocation.get("Seconds", 0) + invocation.get("Milliseconds", 0) / 1000
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if invocation.interpreter.is_cancelled():
            break
        time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))
    return []


def _utility(name: str, handler, parameters: tuple[Parameter, ...], type_suffix: str, **extra) -> CmdletSpec:
    return CmdletSpec(name, handler, parameters, f"{UTILITY}.{type_suffix}", **extra)


_INPUT = Parameter("InputObject", "any", from_pipeline=True)
CORE_CMDLETS = (
    _utility(
        "Where-Object",
        where_object,
        (
            Parameter("FilterScript", "scriptblock", position=0),
            Parameter("Property", position=0),
            Parameter("Value", "any", position=1),
            _INPUT,
            *(
                Parameter(op, "switch", aliases=(f"i{op.lower()}",))
                for op in ("EQ", "NE", "GT", "GE", "LT", "LE", "Like", "NotLike", "Match", "NotMatch", "Contains", "In")
            ),
        ),
        "WhereObjectCommand",
        aliases=("where", "?"),
    ),
    _utility(
        "Select-Object",
        select_object,
        (
            Parameter("Property", "any", position=0),
            Parameter("ExpandProperty"),
            Parameter("First", "int"),
            Parameter("Last", "int"),
            Parameter("Skip", "int"),
            Parameter("Unique", "switch"),
            _INPUT,
        ),
        "SelectObjectCommand",
        aliases=("select",),
    ),
    _utility(
        "ForEach-Object",
        foreach_object,
        (
            Parameter("Process", "scriptblock", position=0),
            Parameter("Begin", "scriptblock"),
            Parameter("End", "scriptblock"),
            Parameter("MemberName", position=0),
            _INPUT,
        ),
        "ForEachObjectCommand",
        aliases=("foreach", "%"),
    ),
    _utility(
        "Measure-Object",
        measure_object,
        (
            Parameter("Property", position=0),
            Parameter("Sum", "switch"),
            Parameter("Average", "switch"),
            Parameter("Maximum", "switch"),
            Parameter("Minimum", "switch"),
            _INPUT,
        ),
        "MeasureObjectCommand",
        aliases=("measure",),
    ),
    _utility(
        "Sort-Object",
        sort_object,
        (
            Parameter("Property", position=0),
            Parameter("Descending", "switch"),
            _INPUT,
        ),
        "SortObjectCommand",
        aliases=("sort",),
    ),
    _utility(
        "ConvertTo-Json",
        convertto_json,
        (
            Parameter("InputObject", "any", position=0, from_pipeline=True),
            Parameter("Depth", "int", minimum=1, maximum=100),
            Parameter("Compress", "switch"),
        ),
        "ConvertToJsonCommand",
    ),
    _utility("Out-Null", out_null, (_INPUT,), "OutNullCommand"),
    _utility(
        "Out-String", out_string, (_INPUT, Parameter("Stream", "switch"), Parameter("Width", "int")), "OutStringCommand"
    ),
    _utility(
        "Write-Output",
        write_output,
        (
            Parameter(
                "InputObject", "any", position=0, mandatory=True, from_pipeline=True, takes_remaining_arguments=True
            ),
            Parameter("NoEnumerate", "switch"),
        ),
        "WriteOutputCommand",
        aliases=("echo", "write"),
    ),
    _utility(
        "Write-Host",
        write_host,
        (
            Parameter("Object", "any", position=0, from_pipeline=True, takes_remaining_arguments=True),
            Parameter("NoNewline", "switch"),
            Parameter("ForegroundColor"),
            Parameter("BackgroundColor"),
        ),
        "WriteHostCommand",
    ),
    _utility(
        "Write-Warning", write_warning, (Parameter("Message", position=0, mandatory=True),), "WriteWarningCommand"
    ),
    _utility(
        "Write-Error",
        write_error,
        (Parameter("Message", position=0, mandatory=True), Parameter("Category"), Parameter("ErrorId")),
        "WriteErrorCommand",
    ),
    _utility(
        "Write-Verbose", write_verbose, (Parameter("Message", position=0, mandatory=True),), "WriteVerboseCommand"
    ),
    _utility(
        "Start-Sleep",
        start_sleep,
        (Parameter("Seconds", "int", position=0), Parameter("Milliseconds", "int")),
        "StartSleepCommand",
        aliases=("sleep",),
    ),
)
