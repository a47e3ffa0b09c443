"""PowerShell operators: comparison (case-insensitive by default, left operand decides the type),
arithmetic, wildcards, and member access and methods on values."""

from __future__ import annotations

import fnmatch
import re
from typing import Any

from .errors import ErrorRecord, StatementTerminatingError
from .values import DateTime, EnumValue, Hashtable, PSObject, ScriptBlock, to_bool, to_text, type_name_of


def runtime_error(
    message: str, error_id: str, category: str = "InvalidOperation", exception: str = "RuntimeException"
) -> StatementTerminatingError:
    return StatementTerminatingError(ErrorRecord(message, category, error_id, exception))


def to_number(value: Any, *, for_type: str = "System.Int32") -> int | float:
    """Convert like PowerShell's arithmetic does; raises its error text when it cannot."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, EnumValue):
        return value.value
    if value is None:
        return 0
    if isinstance(value, str):
        text = value.strip()
        try:
            return int(text, 0) if text.lower().startswith("0x") else int(text)
        except ValueError:
            try:
                return float(text)
            except ValueError:
                pass
    raise runtime_error(
        f'Cannot convert value "{to_text(value)}" to type "{for_type}". Error: "Input string was '
        f'not in a correct format."',
        "InvalidCastFromStringToInteger",
        "InvalidArgument",
        "RuntimeException",
    )


def wildcard_match(text: str, pattern: str) -> bool:
    """PowerShell -like: * ? [abc], case-insensitive, backtick escapes a wildcard character."""
    regex = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "`" and i + 1 < len(pattern):
            regex.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        if char == "[":
            end = pattern.find("]", i + 1)
            if end > i:
                regex.append("[" + pattern[i + 1 : end].replace("\\", "\\\\") + "]")
                i = end + 1
                continue
        regex.append(fnmatch.translate(char)[4:-3] if char in "*?" else re.escape(char))
        i += 1
    return re.fullmatch("".join(regex), text, re.IGNORECASE | re.DOTALL) is not None


def _equal(left: Any, right: Any, case_sensitive: bool) -> bool:
    if left is None or right is None:
        return left is None and right is None
    if isinstance(left, EnumValue):
        if isinstance(right, EnumValue):
            return left.value == right.value
        if isinstance(right, str):
            return left.name.lower() == right.lower() or (
                right.strip().lstrip("-").isdigit() and int(right) == left.value
            )
        return isinstance(right, (int, float)) and left.value == right
    if isinstance(left, str):
        right_text = to_text(right)
        return left == right_text if case_sensitive else left.lower() == right_text.lower()
    if isinstance(left, bool):
        return left == _to_bool_for_compare(right)
    if isinstance(left, (int, float)):
        try:
            return left == to_number(right)
        except StatementTerminatingError:
            return False
    return left is right or left == right


def _to_bool_for_compare(value: Any) -> bool:
    return to_bool(value)


def _order(left: Any, right: Any, case_sensitive: bool) -> int:
    if isinstance(left, EnumValue):
        left = left.value
        right = right.value if isinstance(right, EnumValue) else right
    if isinstance(left, (int, float)) and not isinstance(left, bool):
        right_number = to_number(right)
        return (left > right_number) - (left < right_number)
    if isinstance(left, DateTime) and isinstance(right, DateTime):
        return (left.timestamp > right.timestamp) - (left.timestamp < right.timestamp)
    left_text, right_text = to_text(left), to_text(right)
    if not case_sensitive:
        left_text, right_text = left_text.lower(), right_text.lower()
    return (left_text > right_text) - (left_text < right_text)


def compare(operator: str, left: Any, right: Any, variables: Hashtable) -> Any:
    """Evaluate a comparison operator. With an array on the left, -eq and friends filter it."""
    case_sensitive = operator.startswith("c") and operator not in {"contains"}
    base = (
        operator[1:] if operator[:1] in {"i", "c"} and operator not in {"in", "is", "isnot", "contains"} else operator
    )
    if base in {"contains", "notcontains"}:
        items = left if isinstance(left, list) else [left]
        found = any(_equal(item, right, case_sensitive) for item in items)
        return found if base == "contains" else not found
    if base in {"in", "notin"}:
        items = right if isinstance(right, list) else [right]
        found = any(_equal(item, left, case_sensitive) for item in items)
        return found if base == "in" else not found
    if isinstance(left, list) and base not in {"is", "isnot", "replace", "join", "split", "f"}:
        return [item for item in left if compare(operator, item, right, variables) is True]
    if base == "eq":
        return _equal(left, right, case_sensitive)
    if base == "ne":
        return not _equal(left, right, case_sensitive)
    if base in {"gt", "ge", "lt", "le"}:
        order = _order(left, right, case_sensitive)
        return {"gt": order > 0, "ge": order >= 0, "lt": order < 0, "le": order <= 0}[base]
    if base in {"like", "notlike"}:
        matched = wildcard_match(to_text(left), to_text(right))
        return matched if base == "like" else not matched
    if base in {"match", "notmatch"}:
        flags = 0 if case_sensitive else re.IGNORECASE
        match = re.search(to_text(right), to_text(left), flags)
        if match and base == "match":
            variables["Matches"] = Hashtable(
                [(0, match.group(0))]
                + [(index, group) for index, group in enumerate(match.groups(), 1) if group is not None]
                + [(name, group) for name, group in match.groupdict().items() if group is not None]
            )
        return bool(match) if base == "match" else not match
    if base == "replace":
        pattern, replacement = (right + [""])[:2] if isinstance(right, list) else (right, "")
        replacement = re.sub(r"\$(\d+)", r"\\\1", to_text(replacement))
        flags = 0 if case_sensitive else re.IGNORECASE
        return re.sub(to_text(pattern), replacement, to_text(left), flags=flags)
    if base == "join":
        items = left if isinstance(left, list) else [left]
        return to_text(right).join(to_text(item) for item in items)
    if base == "split":
        return re.split(to_text(right), to_text(left), flags=re.IGNORECASE)
    if base == "f":
        return format_operator(to_text(left), right if isinstance(right, list) else [right])
    if base in {"is", "isnot"}:
        raise runtime_error("The -is operator is not supported by the Hyper-V simulator.", "UnsupportedOperator")
    raise runtime_error(f"Unexpected operator '-{operator}'.", "UnexpectedToken")


def format_operator(template: str, arguments: list[Any]) -> str:
    def substitute(match: re.Match) -> str:
        index = int(match.group(1))
        if index >= len(arguments):
            raise runtime_error(
                "Error formatting a string: Index (zero based) must be greater than or equal to "
                "zero and less than the size of the argument list..",
                "FormatError",
            )
        return to_text(arguments[index])

    return re.sub(r"\{(\d+)(?:[,:][^}]*)?\}", substitute, template).replace("{{", "{").replace("}}", "}")


def arithmetic(operator: str, left: Any, right: Any) -> Any:
    if operator == "+":
        if isinstance(left, str):
            return left + to_text(right)
        if isinstance(left, list):
            return left + (right if isinstance(right, list) else [right])
        if isinstance(left, Hashtable) and isinstance(right, Hashtable):
            for key in right.keys():
                if key in left:
                    raise runtime_error(
                        f"Item has already been added. Key in dictionary: '{key}'  Key being added: '{key}'",
                        "AddFailed",
                    )
            return Hashtable(list(left.items()) + list(right.items()))
        if left is None:
            return right
        return _number_result(to_number(left) + to_number(right))
    if operator == "*" and isinstance(left, str):
        return left * int(to_number(right))
    a, b = to_number(left), to_number(right)
    if operator == "-":
        return _number_result(a - b)
    if operator == "*":
        return _number_result(a * b)
    if b == 0:
        raise runtime_error("Attempted to divide by zero.", "RuntimeException", "NotSpecified")
    if operator == "/":
        return _number_result(a / b)
    return _number_result(a % b)


def _number_result(value: int | float) -> int | float:
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


# --- members and methods ----------------------------------------------------------------------


def get_member(target: Any, name: str) -> Any:
    """``$x.Name``: properties of objects, keys of hashtables, and member enumeration on arrays."""
    lowered = name.lower()
    if isinstance(target, list):
        if lowered in {"count", "length"}:
            return len(target)
        values = [get_member(item, name) for item in target]
        flattened: list[Any] = []
        for value in values:
            if value is None:
                continue
            flattened.extend(value if isinstance(value, list) else [value])
        return flattened if len(flattened) != 1 else flattened[0]
    if isinstance(target, PSObject):
        if name in target.properties:
            return target.properties[name]
        return {"count": 1, "length": 1}.get(lowered)
    if isinstance(target, Hashtable):
        if name in target:
            return target[name]
        if lowered in {"count", "keys", "values"}:
            return {"count": len(target), "keys": target.keys(), "values": target.values()}[lowered]
        return None
    if isinstance(target, str):
        return len(target) if lowered == "length" else (1 if lowered == "count" else None)
    if isinstance(target, EnumValue):
        return target.value if lowered == "value__" else None
    if hasattr(target, "ps_member"):
        return target.ps_member(name)
    if target is None:
        return 0 if lowered == "count" else None
    return 1 if lowered == "count" else None


def set_member(target: Any, name: str, value: Any) -> None:
    if isinstance(target, Hashtable):
        target[name] = value
    elif isinstance(target, PSObject) and name in target.properties:
        target.properties[name] = value
    else:
        raise runtime_error(
            f"The property '{name}' cannot be found on this object. Verify that the property exists and can be set.",
            "PropertyAssignmentException",
        )


_STRING_METHODS = {
    "tolower": lambda s: s.lower(),
    "toupper": lambda s: s.upper(),
    "trim": lambda s, chars=None: s.strip(chars),
    "trimstart": lambda s, chars=None: s.lstrip(chars),
    "trimend": lambda s, chars=None: s.rstrip(chars),
    "contains": lambda s, sub: sub in s,
    "startswith": lambda s, sub: s.startswith(sub),
    "endswith": lambda s, sub: s.endswith(sub),
    "replace": lambda s, old, new: s.replace(old, new),
    "split": lambda s, sep=" ": s.split(sep) if len(sep) <= 1 else re.split("[" + re.escape(sep) + "]", s),
    "substring": lambda s, start, length=None: s[start:] if length is None else s[start : start + length],
    "indexof": lambda s, sub: s.find(sub),
    "padleft": lambda s, n, c=" ": s.rjust(n, c),
    "padright": lambda s, n, c=" ": s.ljust(n, c),
}


def call_method(target: Any, name: str, arguments: list[Any]) -> Any:
    lowered = name.lower()
    if lowered == "tostring" and not arguments:
        return to_text(target) if not isinstance(target, list) else "System.Object[]"
    if lowered == "gettype" and not arguments:
        full = type_name_of(target)
        return PSObject("System.RuntimeType", {"Name": full.rsplit(".", 1)[-1], "FullName": full}, display=full)
    if target is None:
        raise runtime_error("You cannot call a method on a null-valued expression.", "InvokeMethodOnNull")
    if isinstance(target, str) and lowered in _STRING_METHODS:
        converted = [to_text(a) if not isinstance(a, int) or lowered in {"split", "contains"} else a for a in arguments]
        try:
            return _STRING_METHODS[lowered](target, *converted)
        except TypeError:
            raise runtime_error(
                f'Cannot find an overload for "{name}" and the argument count: "{len(arguments)}".',
                "MethodCountCouldNotFindBest",
                "NotSpecified",
                "MethodException",
            )
    if isinstance(target, Hashtable) and lowered in {"containskey", "add", "remove"}:
        if lowered == "containskey":
            return arguments[0] in target
        if lowered == "add":
            target[arguments[0]] = arguments[1]
            return None
        return None
    if isinstance(target, list) and lowered == "contains":
        return any(_equal(item, arguments[0], True) for item in target)
    if isinstance(target, PSObject) and target.type_name.endswith("WindowsPrincipal") and lowered == "isinrole":
        role = arguments[0] if arguments else None
        role_value = role.value if isinstance(role, EnumValue) else to_text(role)
        return bool(target.ref) and role_value in (544, "544", "Administrators", "BUILTIN\\Administrators")
    if isinstance(target, ScriptBlock) and lowered == "invoke":
        raise runtime_error("ScriptBlock.Invoke() is not supported by the Hyper-V simulator.", "UnsupportedMethod")
    raise runtime_error(
        f"Method invocation failed because [{type_name_of(target)}] does not contain a method named '{name}'.",
        "MethodNotFound",
        "InvalidOperation",
    )
