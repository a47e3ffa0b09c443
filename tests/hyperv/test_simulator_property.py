"""Values are data: any string in a correctly quoted literal round-trips exactly through the wire
and runs nothing (checked in the simulator's state, not in its output)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import run_json

pytestmark = pytest.mark.integration
SINGLE_QUOTES = "'\u2018\u2019\u201a\u201b"
# Strings built to look like code, mixed with arbitrary Unicode (no surrogates or NUL: not
# representable in a Windows command line either).
NASTY = st.sampled_from(
    [
        "'",
        "\u2018",
        "\u2019",
        "\u201a",
        "\u201b",
        '"',
        "\u201c",
        "\u201d",
        "$(",
        ")",
        "`",
        ";",
        "\n",
        "\r\n",
        "|",
        "&",
        "#",
        "<#",
        "#>",
        "$env:COMPUTERNAME",
        "@(",
        "{",
        "}",
        "'; Remove-VM -Name * -Force; '",
        "$(New-VMSwitch -Name pwned -SwitchType Private)",
    ]
)
TEXT = st.lists(
    st.one_of(NASTY, st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=8)),
    max_size=6,
).map("".join)


def ps_quote(value: str) -> str:
    return "'" + "".join(char * 2 if char in SINGLE_QUOTES else char for char in value) + "'"


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=TEXT.filter(lambda text: text.strip() != "" and len(text) <= 100), notes=TEXT)  # Hyper-V: 100 max
def test_any_string_round_trips_through_new_vm_and_set_vm_notes_and_executes_nothing(simulator, session, name, notes):
    before = simulator.state()
    vm_id = run_json(
        session,
        f"$n = {ps_quote(name)}; $o = {ps_quote(notes)}\n"
        "$vm = New-VM -Name $n -NoVHD; Set-VM -VM $vm -Notes $o\n"
        "ConvertTo-Json -InputObject $vm.VMId.ToString()",
    )
    after = simulator.state()
    (vm,) = [vm for vm in after["vms"] if vm["id"] == vm_id]
    assert (vm["name"], vm["notes"]) == (name, notes)
    assert len(after["vms"]) == len(before["vms"]) + 1
    assert after["switches"] == before["switches"] and after["nats"] == before["nats"]
