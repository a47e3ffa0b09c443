"""The PowerShell subset in-process (no network): tokenizer, parser, evaluator, JSON, errors."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workers.hyperv.simulator.hyperv.commands import command_table
from workers.hyperv.simulator.hyperv.model import Host, HostConfig
from workers.hyperv.simulator.powershell import ast
from workers.hyperv.simulator.powershell.clixml import render_stderr
from workers.hyperv.simulator.powershell.errors import ParseError, format_error
from workers.hyperv.simulator.powershell.evaluator import Interpreter
from workers.hyperv.simulator.powershell.parser import parse_script
from workers.hyperv.simulator.powershell.tokenizer import parse_number

SINGLE_QUOTES = "'\u2018\u2019\u201a\u201b"


def unwrap(lines: list[str]) -> list[str]:
    """Join the host's console-width line wraps back together."""
    joined: list[str] = []
    for line in lines:
        if joined and joined[-1].endswith(" ") and line.startswith("   ") and joined[-1].strip():
            joined[-1] = joined[-1][:-1] + line[3:]
        else:
            joined.append(line)
    return joined


def run(script: str, host: Host | None = None):
    host = host or Host(HostConfig())
    interpreter = Interpreter(commands=command_table(host.config), context=host)
    result = interpreter.run(script)
    errors = [unwrap(format_error(payload)) for stream, payload in result.stderr if stream == "Error"]
    warnings = [payload for stream, payload in result.stderr if stream == "warning"]
    return result.stdout, errors, warnings, result.exit_code


def out(script: str) -> str:
    stdout, errors, _, _ = run(script)
    assert not errors, errors
    return stdout


def ps_quote(value: str) -> str:
    return "'" + "".join(char * 2 if char in SINGLE_QUOTES else char for char in value) + "'"


# --- literals ---------------------------------------------------------------------------------


def test_doubled_single_quote_is_one_quote():
    assert out("'it''s'") == "it's\r\n"


@pytest.mark.parametrize("quote", list(SINGLE_QUOTES))
def test_every_smart_single_quote_opens_and_closes_a_string(quote):
    assert out(f"{quote}abc{quote}") == "abc\r\n"


def test_a_doubled_smart_quote_is_an_escaped_quote_not_the_end_of_the_string():
    assert out("'a\u2019\u2019b'") == "a\u2019b\r\n"


def test_mixed_quote_characters_still_pair_up_as_an_escape():
    assert out("'a'\u2019b'") == "a\u2019b\r\n"


def test_double_quoted_strings_expand_variables_and_subexpressions():
    assert out('$n = "x"; "name=$n sum=$(1 + 2) braces=${n}"') == "name=x sum=3 braces=x\r\n"


def test_backtick_escapes_in_double_quotes():
    assert out('"a`tb`$c`"d"') == 'a\tb$c"d\r\n'


@pytest.mark.parametrize("quote", ['"', "\u201c", "\u201d", "\u201e"])
def test_smart_double_quotes_are_double_quotes(quote):
    assert out(f"$v = 5; {quote}v=$v{quote}") == "v=5\r\n"


def test_single_quoted_strings_do_not_expand():
    assert out("'$(throw \"no\") $env:COMPUTERNAME `n'") == '$(throw "no") $env:COMPUTERNAME `n\r\n'


@pytest.mark.parametrize(
    "text, value",
    [
        ("4GB", 4 * 1024**3),
        ("512MB", 512 * 1024**2),
        ("2kb", 2048),
        ("1TB", 1024**4),
        ("0x10", 16),
        ("1.5", 1.5),
        ("10", 10),
    ],
)
def test_numeric_literals_with_multipliers(text, value):
    assert parse_number(text) == value


def test_comments_are_ignored():
    assert out("1 # a comment\n<# block\n comment #> 2") == "1\r\n2\r\n"


def test_here_strings_keep_their_content():
    assert out("@'\nit's $x\n'@") == "it's $x\r\n"


# --- language ---------------------------------------------------------------------------------


def test_statements_split_on_semicolons_and_newlines():
    assert out("1; 2\n3") == "1\r\n2\r\n3\r\n"


def test_if_elseif_else_picks_the_first_true_branch():
    assert out("$x = 5; if ($x -lt 3) { 'a' } elseif ($x -lt 10) { 'b' } else { 'c' }") == "b\r\n"


def test_comparison_operators_are_case_insensitive_by_default():
    assert (
        out("'ABC' -eq 'abc'; 'ABC' -ceq 'abc'; 'lab-1' -like 'LAB-*'; 'x12' -match '\\d+'")
        == "True\r\nFalse\r\nTrue\r\nTrue\r\n"
    )


def test_logical_operators_and_not():
    assert out("($true -and $false); ($true -or $false); -not $true; !$false") == "False\r\nTrue\r\nFalse\r\nTrue\r\n"


def test_comparison_on_an_array_filters_it():
    assert out("(1, 2, 3, 4 -gt 2) -join ','") == "3,4\r\n"


def test_array_subexpression_always_makes_an_array():
    assert out("@(5).Count; @().Count; (1, 2).Count; $null.Count") == "1\r\n0\r\n2\r\n0\r\n"


def test_hashtable_keys_are_case_insensitive():
    assert out("$h = @{Name='x'}; $h.name; $h['NAME']") == "x\r\nx\r\n"


def test_methods_on_strings():
    assert (
        out("'Lab-1'.ToUpper(); ' x '.Trim(); 'a,b'.Split(',')[1]; 'abc'.StartsWith('ab')")
        == "LAB-1\r\nx\r\nb\r\nTrue\r\n"
    )


def test_pipeline_into_where_object_foreach_object_and_measure_object():
    assert (
        out(
            "1..5 | Where-Object { $_ % 2 -eq 1 } | ForEach-Object { $_ * 10 } | Measure-Object -Sum | "
            "Select-Object -ExpandProperty Sum"
        )
        == "90\r\n"
    )


def test_select_object_first_and_calculated_property():
    script = (
        "@([pscustomobject]@{N='a';V=1}, [pscustomobject]@{N='b';V=2}) | Select-Object -First 1 N, "
        "@{Name='Double';Expression={$_.V * 2}} | ConvertTo-Json -Compress"
    )
    assert json.loads(out(script)) == {"N": "a", "Double": 2}


def test_try_catch_gives_the_error_record_as_dollar_underscore():
    assert out("try { throw 'boom' } catch { $_.Exception.Message; $_.FullyQualifiedErrorId }") == "boom\r\nboom\r\n"


def test_uncaught_throw_stops_the_script_with_exit_code_1():
    stdout, errors, _, code = run("'before'; throw 'stop here'; 'after'")
    assert stdout == "before\r\n" and code == 1
    assert errors[0][0] == "stop here"


def test_a_non_terminating_error_does_not_stop_the_script_but_stop_preference_does():
    stdout, errors, _, code = run("Get-VM -Name nope; 'after'")
    assert stdout == "after\r\n" and code == 0 and errors
    stdout, errors, _, code = run("$ErrorActionPreference = 'Stop'; Get-VM -Name nope; 'after'")
    assert stdout == "" and code == 1 and errors


def test_erroraction_silentlycontinue_hides_the_error():
    stdout, errors, _, code = run("@(Get-VM -Name nope -ErrorAction SilentlyContinue).Count")
    assert stdout == "0\r\n" and not errors and code == 0


def test_unknown_command_fails_like_powershell():
    _, errors, _, code = run("Invoke-Evil -Now")
    assert errors[0][0].startswith("Invoke-Evil : The term 'Invoke-Evil' is not recognized as the name of a cmdlet")
    assert code == 1


def test_unknown_parameter_fails_with_powershells_error():
    _, errors, _, _ = run("Get-VM -Nmae x")
    assert errors[0][0] == "Get-VM : A parameter cannot be found that matches parameter name 'Nmae'."
    assert "NamedParameterNotFound,Microsoft.HyperV.PowerShell.Commands.GetVM" in "".join(errors[0])


def test_unambiguous_parameter_prefixes_bind():
    assert out("New-VMSwitch -Na p1 -SwitchT Private | Select-Object -ExpandProperty Name") == "p1\r\n"


def test_confirm_false_is_accepted_by_cmdlets_that_support_should_process():
    assert run("New-VMSwitch -Name s -SwitchType Private -Confirm:$false | Out-Null")[3] == 0


@pytest.mark.parametrize("script", ["if ($x { 1 }", "'unterminated", "function f { 1 }", "$x = ", "Get-VM |"])
def test_syntax_outside_the_subset_is_a_parse_error_and_nothing_runs(script):
    host = Host(HostConfig())
    stdout, errors, _, code = run("New-VMSwitch -Name should-not-exist -SwitchType Private\n" + script, host)
    assert code == 1 and errors and stdout == ""
    assert host.state.switches == []


def test_parse_error_names_the_position():
    with pytest.raises(ParseError) as error:
        parse_script("Get-VM\n$x = (1 + ")
    assert error.value.position >= 7


# --- JSON -------------------------------------------------------------------------------------


def test_enum_properties_serialize_as_numbers_and_to_string_gives_the_name():
    host = Host(HostConfig())
    stdout, _, _, _ = run(
        "New-VM -Name a -NoVHD | Out-Null; Get-VM a | Select-Object Name, State, "
        "@{Name='S';Expression={$_.State.ToString()}} | ConvertTo-Json -Compress",
        host,
    )
    assert json.loads(stdout) == {"Name": "a", "State": 3, "S": "Off"}


def test_empty_pipeline_into_convertto_json_prints_nothing_but_input_object_prints_an_array():
    assert out("@() | ConvertTo-Json") == ""
    assert out("ConvertTo-Json -InputObject @() -Compress") == "[]\r\n"


def test_one_object_is_an_object_and_several_are_an_array():
    assert out("@(1) | ConvertTo-Json -Compress") == "1\r\n"
    assert out("@(1, 2) | ConvertTo-Json -Compress") == "[1,2]\r\n"


def test_default_depth_two_turns_deeper_objects_into_strings():
    script = "@{a=@{b=@{c=@{d=1}}}} | ConvertTo-Json -Compress"
    assert json.loads(out(script)) == {"a": {"b": {"c": "System.Collections.Hashtable"}}}
    assert json.loads(out("@{a=@{b=@{c=@{d=1}}}} | ConvertTo-Json -Compress -Depth 5")) == {"a": {"b": {"c": {"d": 1}}}}


def test_json_escapes_html_characters_like_windows_powershell():
    assert out("'<a&b>''' | ConvertTo-Json") == '"\\u003ca\\u0026b\\u003e\\u0027"\r\n'


def test_uncompressed_json_uses_the_51_layout():
    assert out("[pscustomobject]@{A=1} | ConvertTo-Json") == '{\r\n    "A":  1\r\n}\r\n'


# --- CLIXML -----------------------------------------------------------------------------------


def test_errors_render_as_one_clixml_document_with_crlf_escapes():
    _, _, _, _ = run("x")
    interpreter = Interpreter(commands=command_table(HostConfig()), context=Host(HostConfig()))
    result = interpreter.run("Get-Nothing; Get-Nothing2")
    text = render_stderr(result.stderr, show_first_use_progress=False)
    assert text.startswith("#< CLIXML\r\n<Objs ") and text.count("<Objs") == 1 and text.endswith("</Objs>")
    assert '<S S="Error">Get-Nothing : The term' in text and "_x000D__x000A_</S>" in text


# --- property: literals are data --------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_any_text_in_a_correctly_quoted_literal_round_trips_and_is_a_single_constant(text):
    block = parse_script(f"$v = {ps_quote(text)}")
    assignment = block.statements[0]
    assert isinstance(assignment, ast.Assignment)
    value = assignment.value.elements[0].expression
    assert isinstance(value, ast.Constant) and value.value == text


# --- parameter binding ------------------------------------------------------------------------


def test_where_object_simplified_syntax_binds_property_operator_and_value():
    script = (
        "$items = @([pscustomobject]@{Name='a'}, [pscustomobject]@{Name='b'}); "
        "($items | Where-Object Name -eq 'b').Name; ($items | Where-Object -Property Name -Like 'a*').Name"
    )
    assert out(script) == "b\r\na\r\n"


def test_a_positional_value_goes_to_the_next_free_position_after_named_ones():
    host = Host(HostConfig())
    stdout, errors, _, _ = run(
        "New-VM -Name a -NoVHD | Out-Null; Checkpoint-VM a c1; "
        "(Get-VMSnapshot -VMName a c1).Name; Restore-VMSnapshot -VMName a c1 -Confirm:$false",
        host,
    )
    assert (stdout, errors) == ("c1\r\n", [])


def test_too_many_positional_arguments_fail_like_powershell():
    _, errors, _, _ = run("Get-VMHost extra")
    assert errors[0][0] == "Get-VMHost : A positional parameter cannot be found that accepts argument 'extra'."


def test_a_switch_cannot_take_a_separate_value_but_a_bool_needs_one():
    _, errors, _, _ = run("New-VM -Name a -NoVHD | Out-Null; Set-VMProcessor -VMName a -ExposeVirtualizationExtensions")
    assert "Missing an argument for parameter 'ExposeVirtualizationExtensions'" in errors[0][0]


def test_null_piped_into_foreach_object_runs_once():
    assert out("$null | ForEach-Object { 'ran' }") == "ran\r\n"


def test_piping_into_a_cmdlet_that_takes_no_pipeline_input_is_an_error_and_does_nothing():
    host = Host(HostConfig())
    _, errors, _, code = run("'x' | New-VMSwitch -Name s -SwitchType Private", host)
    assert "The input object cannot be bound to any parameters for the command" in " ".join(errors[0])
    assert code == 1 and host.state.switches == []


def test_write_host_writes_to_stdout_in_order_with_output():
    assert out("'a'; Write-Host b c; 'd' | Write-Host; 'e'") == "a\r\nb c\r\nd\r\ne\r\n"


def test_write_output_takes_remaining_arguments_and_pipeline_input():
    assert out("Write-Output a b; 'c' | Write-Output") == "a\r\nb\r\nc\r\n"


def test_increment_and_compound_assignment():
    assert out("$n = 1; $n++; $n += 2; $n *= 3; $n--; $n") == "11\r\n"
    assert out("1..3 | ForEach-Object -Begin { $c = 0 } -Process { $c++ } -End { $c }") == "3\r\n"


def test_an_uncaught_throw_prints_like_windows_powershell():
    _, errors, _, _ = run('throw "boom"')
    assert errors[0] == [
        "boom",
        "At line:1 char:1",
        '+ throw "boom"',
        "+ ~~~~~~~~~~~~",
        "    + CategoryInfo          : OperationStopped: (boom:String) [], RuntimeException",
        "    + FullyQualifiedErrorId : boom",
        " ",
    ]


@pytest.mark.parametrize(
    "script, code",
    [
        ("Get-VM -Name nope -ErrorAction SilentlyContinue | Out-Null", 1),  # a command of the pipeline failed
        ("@(Get-VM -Name nope -ErrorAction SilentlyContinue).Count | Out-Null", 0),  # only a nested one did
        ("Get-VM -Name nope; 'after'", 0),  # $? of the last statement
        ("$v = @(Get-VM -Name nope -ErrorAction SilentlyContinue)", 0),  # an expression succeeded
    ],
)
def test_the_exit_code_is_dollar_question_of_the_last_statement(script, code):
    assert run(script)[3] == code


def test_a_boolean_parameter_refuses_a_string_and_an_enum_parameter_lists_its_names():
    _, errors, _, _ = run("New-VM -Name a -NoVHD | Out-Null; Set-VM -Name a -AutomaticCheckpointsEnabled 'false'")
    assert "Boolean parameters accept only Boolean values and numbers" in " ".join(errors[0])
    _, errors, _, _ = run("New-VMSwitch -Name s -SwitchType Public")
    assert "Specify one of the following enumerator names and try again: Private, Internal, External" in " ".join(
        errors[0]
    ).replace("\n", " ")
