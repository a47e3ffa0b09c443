"""AST node types produced by the parser and walked by the evaluator."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Node:
    pos: int


# --- statements -------------------------------------------------------------------------------


@dataclass
class StatementBlock(Node):
    statements: list[Node]
    text: str = ""


@dataclass
class Pipeline(Node):
    elements: list[Node]  # first may be CommandExpression; the rest are Command


@dataclass
class Assignment(Node):
    target: Node
    operator: str  # '=', '+=', '-='
    value: Node


@dataclass
class If(Node):
    clauses: list[tuple[Node, StatementBlock]]
    else_block: StatementBlock | None


@dataclass
class Try(Node):
    body: StatementBlock
    catches: list[StatementBlock]
    finally_block: StatementBlock | None


@dataclass
class Foreach(Node):
    variable: str
    iterable: Node
    body: StatementBlock


@dataclass
class Throw(Node):
    value: Node | None
    end: int = 0  # where the statement's text ends, for the ~~~ under it


@dataclass
class Return(Node):
    value: Node | None


@dataclass
class Exit(Node):
    value: Node | None


# --- commands ---------------------------------------------------------------------------------


@dataclass
class CommandParameter(Node):
    name: str  # without the dash
    argument: Node | None  # only for the -Name:value form


@dataclass
class CommandArgument(Node):
    value: Node


@dataclass
class Command(Node):
    name: str
    elements: list[Node] = field(default_factory=list)
    end: int = 0  # where the command's text ends, for the ~~~ under it in error messages


@dataclass
class CommandExpression(Node):
    expression: Node


# --- expressions ------------------------------------------------------------------------------


@dataclass
class Constant(Node):
    value: Any


@dataclass
class ExpandableString(Node):
    parts: list[Any]  # str or expression nodes


@dataclass
class Variable(Node):
    name: str


@dataclass
class SubExpression(Node):
    body: StatementBlock


@dataclass
class ArrayExpression(Node):
    body: StatementBlock


@dataclass
class Parenthesized(Node):
    pipeline: Node


@dataclass
class HashLiteral(Node):
    pairs: list[tuple[Node, Node]]


@dataclass
class ArrayLiteral(Node):
    items: list[Node]


@dataclass
class ScriptBlockExpression(Node):
    body: StatementBlock


@dataclass
class MemberAccess(Node):
    target: Node
    member: str
    static: bool = False


@dataclass
class MethodCall(Node):
    target: Node
    method: str
    arguments: list[Node]
    static: bool = False


@dataclass
class Index(Node):
    target: Node
    index: Node


@dataclass
class Unary(Node):
    operator: str
    operand: Node


@dataclass
class Binary(Node):
    operator: str
    left: Node
    right: Node


@dataclass
class Cast(Node):
    type_name: str
    operand: Node


@dataclass
class TypeLiteral(Node):
    type_name: str
