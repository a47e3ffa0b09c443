"""The PowerShell tokenizer.

PowerShell tokenizes differently in *command* mode (arguments of a cmdlet: ``C:\\x\\y.vhdx`` is one
bare word, ``-Name`` is a parameter) and *expression* mode (``-eq`` is an operator, ``.Name`` is a
member). As in PowerShell itself, the parser asks for the next token in the mode it is in, so the
tokenizer is a function of (source, position, mode) rather than a pre-computed token list.

Quote characters are PowerShell's, not just ASCII: any of ``' ‘ ’ ‚ ‛`` opens and closes a
single-quoted string, any of ``" “ ” „`` a double-quoted one, and a doubled quote character of the
same family inside a string is one literal quote. Dashes include the en and em dashes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import ParseError

SINGLE_QUOTES = "'\u2018\u2019\u201a\u201b"
DOUBLE_QUOTES = '"\u201c\u201d\u201e'
DASHES = "-\u2013\u2014\u2015"
COMMAND_MODE = "command"
EXPRESSION_MODE = "expression"

# Characters that end a bare word in command mode.
_WORD_TERMINATORS = set(" \t\r\n;|&(){},") | set(SINGLE_QUOTES) | set(DOUBLE_QUOTES)
_NUMBER = re.compile(
    r"(?:0x(?P<hex>[0-9a-f]+)|(?P<dec>(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?))(?P<type>[ld])?(?P<mult>kb|mb|gb|tb|pb)?",
    re.IGNORECASE,
)
_MULTIPLIERS = {"kb": 1024, "mb": 1024**2, "gb": 1024**3, "tb": 1024**4, "pb": 1024**5}
_VARIABLE_NAME = re.compile(r"(?:(?:global|script|local|private|env):)?[\w?]+|[$^?]", re.IGNORECASE)
_IDENTIFIER = re.compile(r"[A-Za-z_][\w]*")
_PARAMETER_NAME = re.compile(r"[A-Za-z_?][\w-]*")
_OPERATORS = (
    "::",
    "..",
    "++",
    "--",
    "+=",
    "-=",
    "*=",
    "/=",
    "=",
    "+",
    "*",
    "/",
    "%",
    "!",
    ",",
    ".",
    "[",
    "]",
    ">",
    "<",
)


@dataclass(frozen=True)
class Token:
    kind: str  # see the module docstring of parser.py for the list
    text: str
    value: object
    start: int
    end: int
    spaced: bool  # whitespace (or start of input) precedes the token


def parse_number(text: str) -> int | float | None:
    """The value of a whole PowerShell numeric literal such as ``4GB``, ``0x10`` or ``1.5``, else None."""
    match = _NUMBER.fullmatch(text)
    if not match:
        return None
    if match.group("hex"):
        value: int | float = int(match.group("hex"), 16)
    else:
        digits = match.group("dec")
        value = float(digits) if any(c in digits for c in ".eE") else int(digits)
    multiplier = _MULTIPLIERS.get((match.group("mult") or "").lower(), 1)
    value = value * multiplier
    if isinstance(value, float) and match.group("mult") and value.is_integer():
        return value  # PowerShell keeps 1.5GB a double
    return value


def skip_space(source: str, pos: int, *, newlines: bool) -> int:
    """Skip blanks, comments and line continuations (and newlines when asked)."""
    length = len(source)
    while pos < length:
        char = source[pos]
        if char in " \t\f\v\u00a0" or (newlines and char in "\r\n"):
            pos += 1
        elif char == "`" and pos + 1 < length and source[pos + 1] in "\r\n":
            pos += 2
        elif source.startswith("<#", pos):
            end = source.find("#>", pos + 2)
            if end < 0:
                raise ParseError("Missing the terminator: #>.", pos, "MissingTerminatorMultiLineComment")
            pos = end + 2
        elif char == "#":
            while pos < length and source[pos] not in "\r\n":
                pos += 1
        else:
            break
    return pos


def scan_single_quoted(source: str, pos: int) -> tuple[str, int]:
    """Scan a single-quoted literal starting at ``pos`` (a quote); return (value, end)."""
    out: list[str] = []
    i = pos + 1
    while i < len(source):
        char = source[i]
        if char in SINGLE_QUOTES:
            if i + 1 < len(source) and source[i + 1] in SINGLE_QUOTES:
                out.append(source[i + 1])
                i += 2
                continue
            return "".join(out), i + 1
        out.append(char)
        i += 1
    raise ParseError("The string is missing the terminator: '.", pos, "TerminatorExpectedAtEndOfString")


def scan_single_here_string(source: str, pos: int) -> tuple[str, int]:
    """Scan ``@'<newline>...<newline>'@``; the content is taken verbatim."""
    match = re.compile(r"@[" + SINGLE_QUOTES + r"][ \t]*\r?\n").match(source, pos)
    if not match:
        raise ParseError(
            "No characters are allowed after a here-string header but before the end of the line.",
            pos,
            "UnexpectedCharactersAfterHereStringHeader",
        )
    end = re.compile(r"\r?\n[" + SINGLE_QUOTES + r"]@").search(source, match.end())
    if not end:
        raise ParseError("The string is missing the terminator: '@.", pos, "TerminatorExpectedAtEndOfString")
    return source[match.end() : end.start()], end.end()


def next_token(source: str, pos: int, mode: str, *, newlines: bool = False) -> Token:
    """The token at ``pos`` in the given mode (after skipping blanks and comments)."""
    start = skip_space(source, pos, newlines=newlines)
    spaced = start > pos or pos == 0 or source[pos - 1] in " \t\r\n;"
    if start >= len(source):
        return Token("eof", "", None, start, start, spaced)
    char = source[start]

    def tok(kind: str, end: int, value: object = None) -> Token:
        return Token(kind, source[start:end], value, start, end, spaced)

    if char in "\r\n":
        end = start + 2 if source.startswith("\r\n", start) else start + 1
        return tok("newline", end)
    if char == ";":
        return tok(";", start + 1)
    if char == "|":
        if source.startswith("||", start):
            raise ParseError(
                "The token '||' is not a valid statement separator in this version.", start, "InvalidEndOfLine"
            )
        return tok("|", start + 1)
    if char == "&":
        raise ParseError(
            "The ampersand (&) character is not allowed. The & operator is reserved for future use; "
            'wrap an ampersand in double quotation marks ("&") to pass it as part of a string.',
            start,
            "AmpersandNotAllowed",
        )
    if char in "(){}":
        return tok(char, start + 1)
    if char == "@" and start + 1 < len(source):
        following = source[start + 1]
        if following in "({":
            return tok("@" + following, start + 2)
        if following in SINGLE_QUOTES:
            value, end = scan_single_here_string(source, start)
            return tok("string", end, value)
        if following in DOUBLE_QUOTES:
            return tok("here-dq", start + 2)
    if char == "$":
        if source.startswith("$(", start):
            return tok("$(", start + 2)
        if source.startswith("${", start):
            end = source.find("}", start)
            if end < 0:
                raise ParseError("Missing '}' in variable name.", start, "IncompleteDollarVariableReference")
            return tok("variable", end + 1, source[start + 2 : end])
        match = _VARIABLE_NAME.match(source, start + 1)
        if match:
            return tok("variable", match.end(), match.group(0))
        return tok("word", start + 1, "$") if mode == COMMAND_MODE else _unexpected(source, start)
    if char in SINGLE_QUOTES:
        value, end = scan_single_quoted(source, start)
        return tok("string", end, value)
    if char in DOUBLE_QUOTES:
        return tok("dq", start + 1)
    if char in DASHES and start + 1 < len(source):
        match = _PARAMETER_NAME.match(source, start + 1)
        if match and mode == COMMAND_MODE:
            end = match.end()
            colon = end < len(source) and source[end] == ":"
            return tok("parameter", end + 1 if colon else end, (match.group(0), colon))
        if match and mode == EXPRESSION_MODE:
            letters = re.compile(r"[A-Za-z]+").match(source, start + 1)
            if letters:
                return tok("dash-operator", letters.end(), letters.group(0).lower())
    if mode == COMMAND_MODE:
        return _command_word(source, start, tok)
    return _expression_token(source, start, tok)


def _command_word(source: str, start: int, tok) -> Token:
    char = source[start]
    if char == ",":
        return tok(",", start + 1)
    if char in "[.!":
        # `[type]` and `.5` need expression treatment; PowerShell also does so.
        return _expression_token(source, start, tok)
    end = start
    while end < len(source) and source[end] not in _WORD_TERMINATORS:
        if source[end] == "$" and end > start:
            raise ParseError(
                "Variables inside bare words are not supported by the simulator; quote the argument instead.",
                end,
                "UnsupportedBareWordExpansion",
            )
        if source[end] == "`":
            end += 1
        end += 1
    if end < len(source) and source[end] in SINGLE_QUOTES + DOUBLE_QUOTES and end > start:
        raise ParseError(
            "Quotes inside bare words are not supported by the simulator; quote the whole argument instead.",
            end,
            "UnsupportedBareWordQuote",
        )
    text = source[start:end]
    number = parse_number(text)
    if number is not None:
        return tok("number", end, number)
    return tok("word", end, text.replace("`", ""))


def _expression_token(source: str, start: int, tok) -> Token:
    range_start = re.compile(r"\d+(?=\.\.)").match(source, start)
    if range_start:  # `1..5`: the first number is an integer, not `1.`
        return tok("number", range_start.end(), int(range_start.group(0)))
    number = _NUMBER.match(source, start)
    if number and number.end() > start and not _IDENTIFIER.match(source, number.end()):
        value = parse_number(source[start : number.end()])
        if value is not None:
            return tok("number", number.end(), value)
    identifier = _IDENTIFIER.match(source, start)
    if identifier:
        end = identifier.end()
        while end < len(source) and (source[end] == "-" and _IDENTIFIER.match(source, end + 1)):
            end = _IDENTIFIER.match(source, end + 1).end()  # cmdlet names like Get-VM
        return tok("word", end, source[start:end])
    for operator in _OPERATORS:
        if source.startswith(operator, start):
            return tok(operator, start + len(operator))
    if source[start] in DASHES:
        return tok("-", start + 1)
    return _unexpected(source, start)


def _unexpected(source: str, start: int):
    raise ParseError(f"Unexpected token '{source[start]}' in expression or statement.", start, "UnexpectedToken")
