"""hvsim refuses the names a Hyper-V host refuses (Microsoft's rules, not the driver's), so a
value the validators let through is one a real host would take too."""

from __future__ import annotations

import pytest

from workers.hyperv import names

from .conftest import run_error, run_json

pytestmark = pytest.mark.integration


def test_new_vm_refuses_a_name_longer_than_100_characters(session, unique):
    error = run_error(session, f"New-VM -Name '{unique}{'x' * 101}' -NoVHD")
    assert "The parameter is incorrect. (0x80070057)" in error and "InvalidParameter" in error
    name = (unique + "x" * 100)[:100]
    assert run_json(session, f"(New-VM -Name '{name}' -NoVHD).Name | ConvertTo-Json") == name


@pytest.mark.parametrize("name", ["CON", "lpt1.lab", "lab.", "lab ", "a<b", "a|b"])
def test_new_vm_with_a_folder_refuses_names_windows_does_not_allow_as_file_names(session, name):
    error = run_error(session, f"New-VM -Name '{name}' -NoVHD -Path 'C:\\Nestlab\\Labs'")
    assert "The filename, directory name, or volume label syntax is incorrect." in error
    with pytest.raises(names.InvalidValue):  # and the validators refuse it too
        names.check_vm_name(name)


@pytest.mark.parametrize("version", ["\u0669.0", "\uff19.0"])
def test_new_vm_refuses_a_version_in_non_ascii_digits(session, unique, version):
    error = run_error(session, f"New-VM -Name '{unique}' -NoVHD -Version '{version}'")
    assert "is not a supported virtual machine configuration version" in error
