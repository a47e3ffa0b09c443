"""Quoting, literals, script assembly, the command-line limit, and the validators."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workers.hyperv.errors import CommandTooLong, InvalidValue
from workers.hyperv.powershell import (
    COMMAND_PREFIX,
    MAX_COMMAND_LINE,
    PROLOGUE,
    SINGLE_QUOTE_CHARS,
    build_script,
    command_line_length,
    encoded_command,
    ps_literal,
    ps_quote,
    validate_account,
    validate_adapter_name,
    validate_name,
    validate_nat_prefix,
    validate_vlan_id,
    validate_windows_path,
)

# Text rich in the characters that matter: every quote PowerShell knows, both dollar and
# backtick (special only in double quotes), newlines and arbitrary Unicode.
dangerous_text = st.text(
    alphabet=st.one_of(
        st.sampled_from(SINGLE_QUOTE_CHARS + '"`$;|&(){}@#\r\n\u201c\u201d\u201e\x00 '), st.characters()
    ),
    max_size=80,
)


def read_single_quoted(literal: str) -> str:
    """Read one PowerShell single-quoted literal the way the tokenizer does, and return its value.

    Fails if the literal does not start and end with a quote, or if any quote character inside it
    is not part of a doubled pair (which would end the string early)."""
    assert literal[0] in SINGLE_QUOTE_CHARS and literal[-1] in SINGLE_QUOTE_CHARS
    body = literal[1:-1]
    value = []
    index = 0
    while index < len(body):
        char = body[index]
        if char in SINGLE_QUOTE_CHARS:
            assert index + 1 < len(body) and body[index + 1] in SINGLE_QUOTE_CHARS, f"unescaped quote at {index}"
            value.append(char)
            index += 2
        else:
            value.append(char)
            index += 1
    return "".join(value)


@given(dangerous_text)
def test_a_quoted_value_is_one_literal_that_reads_back_as_the_value(value):
    literal = ps_quote(value)
    assert read_single_quoted(literal) == value


@given(dangerous_text)
def test_quoting_doubles_every_quote_character_and_nothing_else(value):
    literal = ps_quote(value)
    expected_length = 2 + len(value) + sum(value.count(quote) for quote in SINGLE_QUOTE_CHARS)
    assert len(literal) == expected_length


@pytest.mark.parametrize("quote", list(SINGLE_QUOTE_CHARS))
def test_each_smart_quote_is_doubled(quote):
    assert ps_quote("a" + quote + "b") == "'a" + quote + quote + "b'"


def test_an_injection_attempt_stays_inside_the_literal():
    literal = ps_quote("x'; Remove-Item C:\\ -Recurse; '")
    assert literal == "'x''; Remove-Item C:\\ -Recurse; '''"
    assert read_single_quoted(literal) == "x'; Remove-Item C:\\ -Recurse; '"


def test_ps_quote_refuses_non_strings():
    with pytest.raises(TypeError):
        ps_quote(5)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "literal"),
    [
        (None, "$null"),
        (True, "$true"),
        (False, "$false"),
        (4294967296, "4294967296"),
        (-1, "-1"),
        ("it's", "'it''s'"),
        (["a", "b'c"], "@('a','b''c')"),
        ([], "@()"),
    ],
)
def test_literals(value, literal):
    assert ps_literal(value) == literal


def test_literals_refuse_other_types():
    with pytest.raises(TypeError):
        ps_literal(1.5)  # type: ignore[arg-type]


def test_a_script_is_prologue_then_assignments_then_the_template():
    script = build_script("Get-VM -Name $Name | ConvertTo-Json -Compress", Name="lab-1", Cpu=2)
    assert script == PROLOGUE + "$Name='lab-1'; $Cpu=2\nGet-VM -Name $Name | ConvertTo-Json -Compress\n"
    assert script.startswith("$ErrorActionPreference='Stop'; $ProgressPreference='SilentlyContinue'")


def test_a_template_must_end_in_compressed_json():
    with pytest.raises(ValueError, match="ConvertTo-Json"):
        build_script("Get-VM")


@pytest.mark.parametrize("variable", ["name", "A;b", "A b", "_x"])
def test_variable_names_are_plain(variable):
    with pytest.raises(ValueError, match="variable"):
        build_script("$x | ConvertTo-Json -Compress", **{variable: "v"})


def test_the_command_line_is_what_pywinrm_sends():
    import base64

    script = "Get-Date | ConvertTo-Json -Compress"
    assert encoded_command(script) == COMMAND_PREFIX + base64.b64encode(script.encode("utf-16-le")).decode()
    assert command_line_length(script) == len(encoded_command(script))


def test_a_script_too_long_for_windows_is_refused_before_sending():
    with pytest.raises(CommandTooLong, match="8191"):
        build_script("$x | ConvertTo-Json -Compress", Blob="x" * 3100)


def test_the_limit_is_exclusive():
    # Find the largest payload that fits and check the boundary exactly.
    fits = max(n for n in range(2900, 3200) if command_line_length("x" * n) < MAX_COMMAND_LINE)
    assert command_line_length("x" * fits) < MAX_COMMAND_LINE <= command_line_length("x" * (fits + 3))


@pytest.mark.parametrize("name", ["lab-1", "a", "A" * 64, "acme.lab_01-x", "0lab"])
def test_good_names(name):
    assert validate_name(name) == name


@pytest.mark.parametrize(
    "name",
    [
        "",
        "-lab",
        ".lab",
        "A" * 65,
        "lab 1",
        "lab*",
        "lab?",
        "lab[1]",
        "lab'1",
        "lab\u2019",
        "lab$x",
        "lab;x",
        "läb",
        "lab\n",
        "lab`",
        "lab.",
        "nul",
        "COM1",
        "con.lab",
        "Lpt9",
    ],
)
def test_bad_names(name):
    with pytest.raises(InvalidValue):
        validate_name(name)


@pytest.mark.parametrize(
    "path",
    ["C:\\Nestlab\\Images\\win2022.vhdx", "D:\\Labs", "C:\\Program Files (x86)\\x", "c:\\a\\b_c-d.e"],
)
def test_good_paths(path):
    assert validate_windows_path(path) == path


@pytest.mark.parametrize(
    "path",
    [
        "C:",
        "C:\\",
        "relative\\path",
        "\\\\server\\share\\x.vhdx",
        "\\\\?\\C:\\x",
        "C:\\a\\..\\b",
        "C:\\a\\.\\b",
        "C:\\a\\b.",
        "C:\\a\\b ",
        "C:\\a*\\b",
        "C:\\a'\\b",
        "C:\\a\u2018\\b",
        "C:\\a$b",
        "C:/a/b",
        "C:\\a\\\\b",
        "C:\\" + "a" * 200,
        "C:\\a\nb",
        "C:\\NUL\\x.vhdx",
        "C:\\a\\com1.vhdx",
        "C:\\aux",
    ],
)
def test_bad_paths(path):
    with pytest.raises(InvalidValue):
        validate_windows_path(path)


@pytest.mark.parametrize("account", ["student1", "ACME\\student1", "student1@acme.example", "nestlab-console"])
def test_good_accounts(account):
    assert validate_account(account) == account


@pytest.mark.parametrize("account", ["", "a b", "ACME\\\\x", "x'y", "\\x", "x;y"])
def test_bad_accounts(account):
    with pytest.raises(InvalidValue):
        validate_account(account)


def test_adapter_names_allow_spaces_but_no_quotes():
    assert validate_adapter_name("Ethernet 2") == "Ethernet 2"
    with pytest.raises(InvalidValue):
        validate_adapter_name("Ethernet'2")


@pytest.mark.parametrize("vlan", [0, 4095, True, "5", None])
def test_bad_vlan_ids(vlan):
    with pytest.raises(InvalidValue):
        validate_vlan_id(vlan)


def test_good_nat_prefix():
    assert str(validate_nat_prefix("10.20.0.0/24")) == "10.20.0.0/24"


@pytest.mark.parametrize("prefix", ["10.20.0.1/24", "10.20.0.0", "10.0.0.0/31", "fd00::/64", "x", "10.0.0.0/24'"])
def test_bad_nat_prefixes(prefix):
    with pytest.raises(InvalidValue):
        validate_nat_prefix(prefix)
