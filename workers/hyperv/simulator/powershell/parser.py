"""Recursive-descent parser for the PowerShell subset.

Grammar (loosest binding first), as in ``about_Operator_Precedence``::

    statement   := if | try | foreach | throw | return | exit | pipeline
    pipeline    := (assignment | command | expression) { '|' command }
    command     := name { -Parameter[:arg] | argument }
    expression  := logical; logical := comparison {-and|-or|-xor comparison}
    comparison  := additive {-eq|-ne|-gt|... additive}; additive := multiplicative {+|- multiplicative}
    multiplicative := range {*|/|% range}; range := unary ['..' unary]
    unary       := (! | -not | - | + | [type]) unary | array; array := postfix {',' postfix}
    postfix     := primary {.member | .method(args) | ::static | [index]}

Token kinds come from ``tokenizer.next_token``; the parser always says which mode it wants.
"""

from __future__ import annotations

import re

from . import ast
from .errors import ParseError
from .tokenizer import (
    COMMAND_MODE,
    DOUBLE_QUOTES,
    EXPRESSION_MODE,
    Token,
    next_token,
    skip_space,
)

LOGICAL_OPERATORS = {"and", "or", "xor"}
COMPARISON_OPERATORS = {
    f"{prefix}{name}"
    for name in (
        "eq",
        "ne",
        "gt",
        "ge",
        "lt",
        "le",
        "like",
        "notlike",
        "match",
        "notmatch",
        "contains",
        "notcontains",
        "in",
        "notin",
        "replace",
    )
    for prefix in ("", "i", "c")
} | {"is", "isnot", "join", "split", "f"}
SUPPORTED_STATEMENT_KEYWORDS = {"if", "try", "foreach", "throw", "return", "exit"}
UNSUPPORTED_KEYWORDS = {
    "function",
    "filter",
    "workflow",
    "while",
    "do",
    "for",
    "switch",
    "param",
    "begin",
    "process",
    "end",
    "trap",
    "break",
    "continue",
    "data",
    "class",
    "enum",
    "using",
    "dynamicparam",
    "configuration",
    "until",
}
_STATEMENT_END = {"newline", ";", "eof", ")", "}"}
_BACKTICK_ESCAPES = {"0": "\0", "a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}
_MEMBER_NAME = re.compile(r"[A-Za-z_]\w*")
_STRING_VARIABLE = re.compile(r"(?:(?:global|script|local|private|env):)?\w+|[$^?]", re.IGNORECASE)


def parse_script(source: str) -> ast.StatementBlock:
    """Parse a whole script; raises ParseError for anything outside the subset."""
    parser = Parser(source)
    block = parser.statement_list(terminators={"eof"})
    token = parser.peek(COMMAND_MODE, newlines=True)
    if token.kind != "eof":
        raise ParseError(f"Unexpected token '{token.text}' in expression or statement.", token.start, "UnexpectedToken")
    return block


class Parser:
    def __init__(self, source: str):
        self.source = source
        self.pos = 0
        self.commas_make_arrays = True  # False only directly inside a method call's argument list

    # --- token plumbing -----------------------------------------------------------------------
    def peek(self, mode: str, *, newlines: bool = False) -> Token:
        return next_token(self.source, self.pos, mode, newlines=newlines)

    def take(self, token: Token) -> Token:
        self.pos = token.end
        return token

    def expect(self, kind: str, mode: str, message: str, error_id: str, *, newlines: bool = True) -> Token:
        token = self.peek(mode, newlines=newlines)
        if token.kind != kind:
            raise ParseError(message, token.start, error_id)
        return self.take(token)

    def skip_newlines(self) -> None:
        self.pos = skip_space(self.source, self.pos, newlines=True)

    # --- statements ---------------------------------------------------------------------------
    def statement_list(self, terminators: set[str]) -> ast.StatementBlock:
        start = self.pos
        statements: list[ast.Node] = []
        while True:
            token = self.peek(COMMAND_MODE, newlines=True)
            if token.kind == ";":
                self.take(token)
                continue
            if token.kind in terminators or token.kind in {"eof", ")", "}"}:
                return ast.StatementBlock(start, statements, self.source[start : token.start])
            statements.append(self.statement())
            after = self.peek(COMMAND_MODE)
            if after.kind not in _STATEMENT_END:
                raise ParseError(
                    f"Unexpected token '{after.text}' in expression or statement.", after.start, "UnexpectedToken"
                )

    def statement(self) -> ast.Node:
        token = self.peek(COMMAND_MODE, newlines=True)
        self.pos = token.start
        keyword = token.value.lower() if token.kind == "word" and isinstance(token.value, str) else ""
        if keyword in UNSUPPORTED_KEYWORDS:
            raise ParseError(
                f"The '{token.value}' statement is not supported by the Hyper-V simulator.",
                token.start,
                "UnsupportedStatement",
            )
        if keyword in SUPPORTED_STATEMENT_KEYWORDS:
            self.take(token)
            return getattr(self, f"{keyword}_statement")(token)
        return self.pipeline()

    def block(self) -> ast.StatementBlock:
        open_brace = self.expect("{", EXPRESSION_MODE, "Missing statement block.", "MissingStatementBlock")
        body = self.statement_list(terminators={"}"})
        self.expect(
            "}", COMMAND_MODE, "Missing closing '}' in statement block or type definition.", "MissingEndCurlyBrace"
        )
        body.pos = open_brace.start
        return body

    def condition(self, keyword: str) -> ast.Node:
        self.expect(
            "(",
            EXPRESSION_MODE,
            f"Missing '(' after '{keyword}' in if statement.",
            "MissingOpenParenthesisInIfStatement",
        )
        self.skip_newlines()
        value = self.pipeline()
        self.expect(
            ")", EXPRESSION_MODE, "Missing ')' after if statement condition.", "MissingEndParenthesisAfterStatement"
        )
        return value

    def if_statement(self, token: Token) -> ast.Node:
        clauses = [(self.condition("if"), self.block())]
        else_block = None
        while True:
            following = self.peek(COMMAND_MODE, newlines=True)
            word = following.value.lower() if following.kind == "word" else ""
            if word == "elseif":
                self.take(following)
                clauses.append((self.condition("elseif"), self.block()))
            elif word == "else":
                self.take(following)
                else_block = self.block()
                break
            else:
                break
        return ast.If(token.start, clauses, else_block)

    def try_statement(self, token: Token) -> ast.Node:
        body = self.block()
        catches: list[ast.StatementBlock] = []
        finally_block = None
        while True:
            following = self.peek(COMMAND_MODE, newlines=True)
            word = following.value.lower() if following.kind == "word" else ""
            if word == "catch":
                self.take(following)
                while self.peek(EXPRESSION_MODE, newlines=True).kind == "[":  # catch [SomeType] { }: any error
                    self.take(self.peek(EXPRESSION_MODE, newlines=True))
                    self.type_name()
                    if self.peek(EXPRESSION_MODE, newlines=True).kind == ",":
                        self.take(self.peek(EXPRESSION_MODE, newlines=True))
                catches.append(self.block())
            elif word == "finally":
                self.take(following)
                finally_block = self.block()
                break
            else:
                break
        if not catches and finally_block is None:
            raise ParseError(
                "The Try statement is missing its Catch or Finally block.", self.pos, "MissingCatchOrFinally"
            )
        return ast.Try(token.start, body, catches, finally_block)

    def foreach_statement(self, token: Token) -> ast.Node:
        self.expect(
            "(", EXPRESSION_MODE, "Missing opening '(' after keyword 'foreach'.", "MissingOpenParenthesisAfterKeyword"
        )
        variable = self.expect(
            "variable", EXPRESSION_MODE, "Missing variable name after foreach.", "MissingVariableNameAfterForeach"
        )
        keyword = self.peek(EXPRESSION_MODE, newlines=True)
        if keyword.kind != "word" or keyword.value.lower() != "in":
            raise ParseError("Missing 'in' after variable in foreach loop.", keyword.start, "MissingInInForeach")
        self.take(keyword)
        self.skip_newlines()
        iterable = self.pipeline()
        self.expect(
            ")",
            EXPRESSION_MODE,
            "Missing closing ')' after expression in 'foreach' statement.",
            "MissingEndParenthesisAfterForeach",
        )
        return ast.Foreach(token.start, variable.value, iterable, self.block())

    def _optional_value(self) -> ast.Node | None:
        if self.peek(COMMAND_MODE).kind in _STATEMENT_END | {"|"}:
            return None
        return self.pipeline()

    def throw_statement(self, token: Token) -> ast.Node:
        value = self._optional_value()
        return ast.Throw(token.start, value, self.pos)

    def return_statement(self, token: Token) -> ast.Node:
        return ast.Return(token.start, self._optional_value())

    def exit_statement(self, token: Token) -> ast.Node:
        return ast.Exit(token.start, self._optional_value())

    # --- pipelines and commands ---------------------------------------------------------------
    def pipeline(self) -> ast.Node:
        token = self.peek(COMMAND_MODE, newlines=True)
        start = token.start
        elements: list[ast.Node] = []
        if token.kind == "word" and not token.text[0].isdigit() and token.text[0] != "!":  # `1..3`, `!$x`: expressions
            elements.append(self.command())
        else:
            expression = self.expression()
            operator = self.peek(EXPRESSION_MODE)
            if operator.kind in {"++", "--"} and isinstance(expression, (ast.Variable, ast.MemberAccess, ast.Index)):
                self.take(operator)  # `$n++` as a statement: an assignment that writes nothing
                return ast.Assignment(start, expression, operator.kind[0] + "=", ast.Constant(operator.start, 1))
            if operator.kind in {"=", "+=", "-=", "*=", "/="}:
                if not isinstance(expression, (ast.Variable, ast.MemberAccess, ast.Index)):
                    raise ParseError(
                        "The assignment expression is not valid. The input to an assignment operator "
                        "must be an object that is able to accept assignments, such as a variable or "
                        "a property.",
                        operator.start,
                        "InvalidLeftHandSide",
                    )
                self.take(operator)
                self.skip_newlines()
                return ast.Assignment(start, expression, operator.kind, self.statement())
            elements.append(ast.CommandExpression(start, expression))
        while self.peek(COMMAND_MODE).kind == "|":
            self.take(self.peek(COMMAND_MODE))
            following = self.peek(COMMAND_MODE, newlines=True)
            if following.kind != "word":
                if following.kind in _STATEMENT_END:
                    raise ParseError("An empty pipe element is not allowed.", following.start, "EmptyPipeElement")
                raise ParseError(
                    "Expressions are only allowed as the first element of a pipeline.",
                    following.start,
                    "ExpressionsMustBeFirstInPipeline",
                )
            elements.append(self.command())
        return ast.Pipeline(start, elements)

    def command(self) -> ast.Command:
        name = self.take(self.peek(COMMAND_MODE, newlines=True))
        command = ast.Command(name.start, str(name.value))
        while True:
            token = self.peek(COMMAND_MODE)
            if token.kind in _STATEMENT_END or token.kind == "|":
                command.end = self.pos
                return command
            if token.kind == "parameter":
                self.take(token)
                parameter_name, has_colon = token.value
                argument = None
                if has_colon:
                    argument = self.command_argument()
                command.elements.append(ast.CommandParameter(token.start, parameter_name, argument))
            else:
                command.elements.append(ast.CommandArgument(token.start, self.command_argument()))

    def command_argument(self) -> ast.Node:
        """One argument in command mode; commas make an array (``-Name a, b``)."""
        start = self.pos
        items = [self.command_argument_item()]
        while self.peek(COMMAND_MODE).kind == ",":
            self.take(self.peek(COMMAND_MODE))
            self.skip_newlines()
            items.append(self.command_argument_item())
        return items[0] if len(items) == 1 else ast.ArrayLiteral(start, items)

    def command_argument_item(self) -> ast.Node:
        token = self.peek(COMMAND_MODE)
        if token.kind == "word":
            self.take(token)
            return ast.Constant(token.start, token.value)
        if token.kind == "number":
            self.take(token)
            return self.postfix(ast.Constant(token.start, token.value))
        if token.kind in _STATEMENT_END or token.kind in {"|", "parameter"}:
            raise ParseError("Missing expression after ','.", token.start, "MissingExpressionAfterToken")
        return self.postfix(self.primary())

    # --- expressions --------------------------------------------------------------------------
    def expression(self) -> ast.Node:
        left = self.comparison()
        while (token := self.peek(EXPRESSION_MODE)).kind == "dash-operator" and token.value in LOGICAL_OPERATORS:
            self.take(token)
            self.skip_newlines()
            left = ast.Binary(token.start, token.value, left, self.comparison())
        return left

    def comparison(self) -> ast.Node:
        left = self.additive()
        while (token := self.peek(EXPRESSION_MODE)).kind == "dash-operator":
            if token.value in LOGICAL_OPERATORS:
                break
            if token.value not in COMPARISON_OPERATORS:
                raise ParseError(
                    f"Unexpected token '-{token.value}' in expression or statement.", token.start, "UnexpectedToken"
                )
            self.take(token)
            self.skip_newlines()
            left = ast.Binary(token.start, token.value, left, self.additive())
        return left

    def additive(self) -> ast.Node:
        left = self.multiplicative()
        while (token := self.peek(EXPRESSION_MODE)).kind in {"+", "-"}:
            self.take(token)
            self.skip_newlines()
            left = ast.Binary(token.start, token.kind, left, self.multiplicative())
        return left

    def multiplicative(self) -> ast.Node:
        left = self.range()
        while (token := self.peek(EXPRESSION_MODE)).kind in {"*", "/", "%"}:
            self.take(token)
            self.skip_newlines()
            left = ast.Binary(token.start, token.kind, left, self.range())
        return left

    def range(self) -> ast.Node:
        left = self.unary()
        token = self.peek(EXPRESSION_MODE)
        if token.kind == "..":
            self.take(token)
            return ast.Binary(token.start, "..", left, self.unary())
        return left

    def unary(self) -> ast.Node:
        token = self.peek(EXPRESSION_MODE, newlines=False)
        if token.kind == "!" or (token.kind == "dash-operator" and token.value == "not"):
            self.take(token)
            self.skip_newlines()
            return ast.Unary(token.start, "not", self.unary())
        if token.kind in {"-", "+"}:
            self.take(token)
            return ast.Unary(token.start, token.kind, self.unary())
        if token.kind == "dash-operator" and token.value in {"join", "split"}:
            self.take(token)
            return ast.Unary(token.start, token.value, self.unary())
        if token.kind == ",":
            self.take(token)
            return ast.ArrayLiteral(token.start, [self.unary()])
        return self.array()

    def array(self) -> ast.Node:
        first = self.postfix(self.primary())
        items = [first]
        while self.commas_make_arrays and self.peek(EXPRESSION_MODE).kind == ",":
            self.take(self.peek(EXPRESSION_MODE))
            self.skip_newlines()
            items.append(self.postfix(self.primary()))
        return first if len(items) == 1 else ast.ArrayLiteral(first.pos, items)

    def postfix(self, target: ast.Node) -> ast.Node:
        """Member access, method calls and indexing: only with no whitespace before them."""
        while self.pos < len(self.source):
            char = self.source[self.pos]
            if char == "." and not self.source.startswith("..", self.pos):
                match = _MEMBER_NAME.match(self.source, self.pos + 1)
                if not match:
                    raise ParseError("Missing property name after reference operator.", self.pos, "MissingPropertyName")
                target = self._member(target, match, static=False)
            elif self.source.startswith("::", self.pos):
                match = _MEMBER_NAME.match(self.source, self.pos + 2)
                if not match:
                    raise ParseError("Missing property name after reference operator.", self.pos, "MissingPropertyName")
                target = self._member(target, match, static=True)
            elif char == "[" and not isinstance(target, ast.TypeLiteral):
                start = self.pos
                self.pos += 1
                self.skip_newlines()
                index = self.expression()
                self.expect(
                    "]",
                    EXPRESSION_MODE,
                    "Array index expression is missing or not valid.",
                    "MissingArrayIndexExpression",
                )
                target = ast.Index(start, target, index)
            else:
                break
        return target

    def _member(self, target: ast.Node, match: re.Match, *, static: bool) -> ast.Node:
        start = self.pos
        self.pos = match.end()
        if self.source.startswith("(", self.pos):
            self.pos += 1
            arguments: list[ast.Node] = []
            self.skip_newlines()
            if self.peek(EXPRESSION_MODE, newlines=True).kind != ")":
                while True:
                    self.skip_newlines()
                    arguments.append(self.comparison_without_comma())
                    token = self.peek(EXPRESSION_MODE, newlines=True)
                    if token.kind != ",":
                        break
                    self.take(token)
            self.expect(
                ")", EXPRESSION_MODE, "Missing closing ')' in method call.", "MissingEndParenthesisInMethodCall"
            )
            return ast.MethodCall(start, target, match.group(0), arguments, static)
        return ast.MemberAccess(start, target, match.group(0), static)

    def comparison_without_comma(self) -> ast.Node:
        """A method argument: a full expression, but a comma separates arguments instead of building an array."""
        saved, self.commas_make_arrays = self.commas_make_arrays, False
        try:
            return self.expression()
        finally:
            self.commas_make_arrays = saved

    def primary(self) -> ast.Node:
        saved, self.commas_make_arrays = self.commas_make_arrays, True
        try:
            return self._primary()
        finally:
            self.commas_make_arrays = saved

    def _primary(self) -> ast.Node:
        token = self.peek(EXPRESSION_MODE)
        kind = token.kind
        if kind == "number" or kind == "string":
            self.take(token)
            return ast.Constant(token.start, token.value)
        if kind == "variable":
            self.take(token)
            return ast.Variable(token.start, str(token.value))
        if kind == "dq":
            return self.expandable_string(token.start, here=False)
        if kind == "here-dq":
            return self.expandable_string(token.start, here=True)
        if kind == "(":
            self.take(token)
            self.skip_newlines()
            inner = self.statement()
            self.expect(")", EXPRESSION_MODE, "Missing closing ')' in expression.", "MissingEndParenthesisInExpression")
            return ast.Parenthesized(token.start, inner)
        if kind in {"$(", "@("}:
            self.take(token)
            body = self.statement_list(terminators={")"})
            self.expect(
                ")", EXPRESSION_MODE, "Missing closing ')' in subexpression.", "MissingEndParenthesisInSubexpression"
            )
            return (ast.SubExpression if kind == "$(" else ast.ArrayExpression)(token.start, body)
        if kind == "@{":
            self.take(token)
            return self.hash_literal(token.start)
        if kind == "{":
            self.take(token)
            body = self.statement_list(terminators={"}"})
            self.expect(
                "}",
                EXPRESSION_MODE,
                "Missing closing '}' in statement block or type definition.",
                "MissingEndCurlyBrace",
            )
            return ast.ScriptBlockExpression(token.start, body)
        if kind == "[":
            self.take(token)
            name = self.type_name()
            literal = ast.TypeLiteral(token.start, name)
            following = self.peek(EXPRESSION_MODE)
            if following.kind in {"variable", "(", "$(", "@(", "@{", "number", "string", "dq", "["}:
                return ast.Cast(token.start, name, self.unary())
            return literal
        if kind == "eof" or kind in _STATEMENT_END:
            raise ParseError(
                "You must provide a value expression following this operator.", token.start, "ExpectedValueExpression"
            )
        raise ParseError(f"Unexpected token '{token.text}' in expression or statement.", token.start, "UnexpectedToken")

    def type_name(self) -> str:
        end = self.source.find("]", self.pos)
        if end < 0:
            raise ParseError("Missing ] at end of type token.", self.pos, "EndSquareBracketExpectedAtEndOfType")
        name = self.source[self.pos : end].strip()
        if not re.fullmatch(r"[A-Za-z_][\w.]*(\[\])?", name):
            raise ParseError(f"Unexpected token '{name}' in type name.", self.pos, "UnexpectedToken")
        self.pos = end + 1
        return name

    def hash_literal(self, start: int) -> ast.Node:
        pairs: list[tuple[ast.Node, ast.Node]] = []
        while True:
            token = self.peek(EXPRESSION_MODE, newlines=True)
            if token.kind == ";":
                self.take(token)
                continue
            if token.kind == "}":
                self.take(token)
                return ast.HashLiteral(start, pairs)
            if token.kind in {"word", "string", "number"}:
                self.take(token)
                key: ast.Node = ast.Constant(token.start, token.value)
            elif token.kind in {"variable", "dq", "("}:
                key = self.postfix(self.primary())
            else:
                raise ParseError("Missing key before '=' in hash literal.", token.start, "MissingEqualsInHashLiteral")
            self.expect(
                "=",
                EXPRESSION_MODE,
                "Missing '=' operator after key in hash literal.",
                "MissingEqualsInHashLiteral",
                newlines=False,
            )
            self.skip_newlines()
            pairs.append((key, self.statement()))
            after = self.peek(EXPRESSION_MODE)
            if after.kind not in {"newline", ";", "}"}:
                raise ParseError(
                    "Missing statement after '=' in hash literal.", after.start, "MissingStatementInHashLiteral"
                )

    def expandable_string(self, start: int, *, here: bool) -> ast.Node:
        """Parse a double-quoted (or @" "@) string into literal text and embedded expressions."""
        source = self.source
        i = start + (2 if here else 1)
        if here:
            header = re.compile(r"[ \t]*\r?\n").match(source, i)
            if not header:
                raise ParseError(
                    "No characters are allowed after a here-string header but before the end of the line.",
                    start,
                    "UnexpectedCharactersAfterHereStringHeader",
                )
            i = header.end()
        parts: list[object] = []
        text: list[str] = []

        def flush() -> None:
            if text:
                parts.append("".join(text))
                text.clear()

        while True:
            if i >= len(source):
                raise ParseError('The string is missing the terminator: ".', start, "TerminatorExpectedAtEndOfString")
            char = source[i]
            if here and char in "\r\n":
                end = re.compile(r"\r?\n[" + DOUBLE_QUOTES + r"]@").match(source, i)
                if end:
                    self.pos = end.end()
                    break
            if not here and char in DOUBLE_QUOTES:
                if i + 1 < len(source) and source[i + 1] in DOUBLE_QUOTES:
                    text.append(source[i + 1])
                    i += 2
                    continue
                self.pos = i + 1
                break
            if char == "`" and i + 1 < len(source):
                text.append(_BACKTICK_ESCAPES.get(source[i + 1], source[i + 1]))
                i += 2
                continue
            if char == "$" and source.startswith("$(", i):
                flush()
                self.pos = i + 2
                body = self.statement_list(terminators={")"})
                self.expect(
                    ")",
                    EXPRESSION_MODE,
                    "Missing closing ')' in subexpression.",
                    "MissingEndParenthesisInSubexpression",
                )
                parts.append(ast.SubExpression(i, body))
                i = self.pos
                continue
            if char == "$" and source.startswith("${", i):
                end = source.find("}", i)
                if end < 0:
                    raise ParseError("Missing '}' in variable name.", i, "IncompleteDollarVariableReference")
                flush()
                parts.append(ast.Variable(i, source[i + 2 : end]))
                i = end + 1
                continue
            if char == "$":
                match = _STRING_VARIABLE.match(source, i + 1)
                if match:
                    flush()
                    parts.append(ast.Variable(i, match.group(0)))
                    i = match.end()
                    continue
            text.append(char)
            i += 1
        flush()
        if all(isinstance(part, str) for part in parts):
            return ast.Constant(start, "".join(parts))  # type: ignore[arg-type]
        return ast.ExpandableString(start, parts)
