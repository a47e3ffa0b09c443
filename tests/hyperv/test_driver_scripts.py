"""The driver's scripts: values only through the quoting function (checked on the source),
every template well-formed and under the command-line limit at the largest allowed inputs, and
each operation sending the script it should (with a recording client, no network)."""

from __future__ import annotations

import ast
import uuid
from pathlib import Path

import pytest

import workers.hyperv.driver as driver_module
from workers.hyperv.driver import HyperVDriver
from workers.hyperv.errors import HostError, InvalidState, InvalidValue, NotFound, Timeout
from workers.hyperv.interface import CLEAN_CHECKPOINT, ConnectionSpec, SwitchSpec, VmSpec
from workers.hyperv.powershell import MAX_COMMAND_LINE, PROLOGUE, build_script, command_line_length

HYPERV = Path(driver_module.__file__).parent


def _formatting_outside_errors(tree: ast.AST) -> list[tuple[int, str]]:
    """f-strings, ``%`` on strings and ``.format``/``.format_map`` calls that are neither in a
    raise statement nor in ``__repr__`` (error messages and reprs may format; scripts may not)."""
    exempt: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Raise) or (isinstance(node, ast.FunctionDef) and node.name == "__repr__"):
            exempt.update(id(child) for child in ast.walk(node))
    found = []
    for node in ast.walk(tree):
        if id(node) in exempt:
            continue
        if isinstance(node, ast.JoinedStr):
            found.append((node.lineno, "f-string"))
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod) and isinstance(node.left, ast.Constant):
            found.append((node.lineno, "% formatting"))
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr
            in (
                "format",
                "format_map",
            )
        ):
            found.append((node.lineno, "." + node.func.attr))
    return found


@pytest.mark.parametrize("module", ["driver.py", "powershell.py"])
def test_no_string_formatting_builds_script_text(module):
    offenders = _formatting_outside_errors(ast.parse((HYPERV / module).read_text()))
    assert offenders == [], f"{module}: string formatting outside error messages at {offenders}"


def test_the_formatting_scan_catches_each_kind():
    source = "def f(n):\n    a = f'Get-VM {n}'\n    b = 'Get-VM %s' % n\n    c = 'Get-VM {}'.format(n)\n"
    kinds = [kind for _, kind in _formatting_outside_errors(ast.parse(source))]
    assert kinds == ["f-string", "% formatting", ".format"]


def test_powershell_joins_only_quoted_literals():
    """The two joins in powershell.py join ps_quote(...) results and "$Var=" + ps_literal(...)."""
    tree = ast.parse((HYPERV / "powershell.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            operands = [node.left, node.right]
            for operand in operands:
                assert isinstance(operand, (ast.Constant, ast.Call, ast.BinOp, ast.Name, ast.IfExp, ast.Subscript)), (
                    ast.unparse(node)
                )
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "join":
            argument = ast.unparse(node.args[0])
            assert "ps_quote(" in argument or argument == "assignments", ast.unparse(node)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "append":
            assert "ps_literal(" in ast.unparse(node.args[0]), ast.unparse(node)


def test_the_winrm_client_only_encodes_scripts():
    tree = ast.parse((HYPERV / "winrm_client.py").read_text())
    uses = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and any(isinstance(arg, ast.Name) and arg.id == "script" for arg in node.args)
    ]
    assert uses and all(ast.unparse(call.func) in ("check_length", "encoded_command") for call in uses)


def test_every_script_the_driver_builds_uses_a_constant_template():
    """Each ``build_script(template, **values)`` call passes a module-level template built only
    from string literals; values go in as keyword arguments (quoted by ps_literal)."""
    tree = ast.parse((HYPERV / "driver.py").read_text())
    constant_templates = {
        target.id
        for node in tree.body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name) and _only_literals(node.value)
    }
    pass_through = next(
        node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef) and node.name == "_run_vm_script"
    )
    inside_pass_through = {id(child) for child in ast.walk(pass_through)}
    calls = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "build_script"
        and id(node) not in inside_pass_through
    ]
    assert len(calls) > 5
    for call in calls:
        assert len(call.args) == 1, ast.unparse(call)
        assert isinstance(call.args[0], ast.Name) and call.args[0].id in constant_templates, ast.unparse(call)
    # _run_vm_script passes its template parameter through: its callers must pass constants.
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "_run_vm_script":
            assert isinstance(node.args[0], ast.Name) and node.args[0].id in constant_templates, ast.unparse(node)


def _only_literals(node: ast.AST) -> bool:
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _only_literals(node.left) and _only_literals(node.right)
    if isinstance(node, ast.Name):
        return node.id.lstrip("_").isupper()
    return False


TEMPLATES = {
    name: value
    for name, value in vars(driver_module).items()
    if name.isupper() and isinstance(value, str) and "ConvertTo-Json" in value
}


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_each_template_ends_in_compressed_json(name):
    assert TEMPLATES[name].rstrip().endswith("-Compress")


LONGEST_NAME = "n" * 64
LONGEST_ROOT = "C:\\" + "r" * 60 + "\\" + "q" * 60
LONGEST_BASE = "C:\\" + "b" * 60 + "\\" + "c" * 50 + "\\" + "i" * 5 + ".vhdx"


def largest_spec(**overrides) -> VmSpec:
    values = dict(
        name=LONGEST_NAME,
        lab_id=uuid.uuid4(),
        tenant_slug="t" * 40,
        vcpus=240,
        memory_mb=12 * 1024 * 1024,
        disk_gb=64 * 1024,
        base_image_path=LONGEST_BASE,
        vm_root=LONGEST_ROOT,
        generation=2,
        config_version="10.0",
        switch_name="s" * 64,
        vlan_id=4094,
    )
    values.update(overrides)
    return VmSpec(**values)


class RecordingClient:
    """Stands in for WinRMClient: records scripts and answers from a queue."""

    def __init__(self, *answers):
        self.scripts: list[str] = []
        self.deadlines: list[float | None] = []
        self.answers = list(answers)
        self.round_trips = 0

    def run_script(self, script, *, deadline_s=None, on_step=None):
        self.scripts.append(script)
        self.deadlines.append(deadline_s)
        answer = self.answers.pop(0) if self.answers else None
        if isinstance(answer, Exception):
            raise answer
        return answer

    def shell(self):
        import contextlib

        return contextlib.nullcontext()


def recording_driver(*answers) -> tuple[HyperVDriver, RecordingClient]:
    conn = ConnectionSpec(
        host_name="hv01",
        endpoint="hv01.example",
        port=5986,
        transport="ssl",
        username="nestlab",
        password="pw",
        use_tls=True,
    )
    driver = HyperVDriver(conn)
    driver.client = RecordingClient(*answers)
    return driver, driver.client


def assignments(script: str) -> str:
    return script[len(PROLOGUE) :].split("\n", 1)[0]


CREATED = {"VMId": "vm-id", "Built": False}


def test_the_create_scripts_fit_at_the_largest_allowed_values():
    driver, client = recording_driver(CREATED, "vm-id")
    driver.ensure_vm(largest_spec())
    assert len(client.scripts) == 2
    for script in client.scripts:
        assert command_line_length(script) < 0.75 * MAX_COMMAND_LINE, command_line_length(script)


def test_typical_create_scripts_are_well_under_the_limit():
    driver, client = recording_driver(CREATED, "vm-id")
    spec = largest_spec(
        name="lab-" + "0" * 12,
        tenant_slug="acme",
        base_image_path="C:\\Nestlab\\Images\\win2022-core.vhdx",
        vm_root="C:\\Nestlab\\Labs",
        switch_name="nl-acme",
    )
    driver.ensure_vm(spec)
    for script in client.scripts:
        assert command_line_length(script) < 0.6 * MAX_COMMAND_LINE, command_line_length(script)


def test_a_built_vm_costs_one_script():
    driver, client = recording_driver({"VMId": "vm-id", "Built": True})
    assert driver.ensure_vm(largest_spec()) == "vm-id"
    assert len(client.scripts) == 1


def test_host_facts_fits_with_ten_base_images():
    images = ["C:\\Nestlab\\Images\\" + "i" * 40 + str(index) + ".vhdx" for index in range(10)]
    script = build_script(driver_module.HOST_FACTS, Images=images)
    assert command_line_length(script) < 0.75 * MAX_COMMAND_LINE


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_every_other_template_is_small(name):
    if name.startswith("ENSURE_VM"):
        return
    values = dict(Name=LONGEST_NAME, Checkpoint=LONGEST_NAME, Root=LONGEST_ROOT, User="D" * 63 + "\\" + "u" * 64)
    script = build_script(TEMPLATES[name], **values)
    assert command_line_length(script) < 0.6 * MAX_COMMAND_LINE


def test_create_passes_every_value_as_a_quoted_assignment():
    driver, client = recording_driver(CREATED, "vm-id")
    spec = largest_spec(name="lab-1", tenant_slug="acme", vlan_id=None)
    assert driver.ensure_vm(spec) == "vm-id"
    line = assignments(client.scripts[0])
    assert "$Name='lab-1'" in line
    assert "$Notes='nestlab:" + str(spec.lab_id) + " tenant:acme'" in line
    assert "$Mem=" + str(12 * 1024 * 1024 * 1024 * 1024) in line
    assert "$Vlan=$null" in line
    assert "$Clean='" + CLEAN_CHECKPOINT + "'" in line


def test_create_refuses_an_answer_without_a_vm_id():
    driver, _ = recording_driver(None)
    with pytest.raises(HostError):
        driver.ensure_vm(largest_spec())


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (SwitchSpec("nl-acme", "private"), ["$Type='Private'"]),
        (
            SwitchSpec("nl-acme", "nat", nat_prefix="10.20.0.0/24", nat_pool="10.16.0.0/12"),
            ["$Type='Internal'", "$Pool='10.16.0.0/12'", "$Nat='nestlab-nat'", "$Gateway='10.20.0.1'", "$Length=24"],
        ),
        (SwitchSpec("nl-shared", "vlan", external_adapter="Ethernet 2"), ["$Type='External'", "$Nic='Ethernet 2'"]),
    ],
)
def test_switch_scripts_per_mode(spec, expected):
    driver, client = recording_driver()
    driver.ensure_switch(spec)
    for fragment in expected:
        assert fragment in assignments(client.scripts[0])


def test_removing_a_switch_passes_force_as_a_boolean():
    driver, client = recording_driver(0, 0)
    driver.remove_switch("nl-acme")
    driver.remove_switch("nl-acme", force=True)
    assert "$Force=$false" in assignments(client.scripts[0])
    assert "$Force=$true" in assignments(client.scripts[1])


def test_stop_turns_off_only_when_the_guest_did_not_shut_down():
    driver, client = recording_driver({"State": "Off"})
    driver.stop_vm("lab-1", graceful_timeout_s=5)
    assert len(client.scripts) == 1 and client.deadlines == [5]

    for refusal in (Timeout("cut"), InvalidState("no shutdown service"), HostError("guest did not answer")):
        driver, client = recording_driver(refusal, {"State": "Off"})
        driver.stop_vm("lab-1", graceful_timeout_s=5)
        assert len(client.scripts) == 2
        assert "-TurnOff" in client.scripts[1] and "-TurnOff" not in client.scripts[0]


def test_stop_of_a_missing_vm_is_not_found():
    driver, client = recording_driver(NotFound("unable to find"))
    with pytest.raises(NotFound):
        driver.stop_vm("lab-1")
    assert len(client.scripts) == 1


def test_reset_restores_the_clean_checkpoint():
    driver, client = recording_driver()
    driver.reset_vm("lab-1")
    assert "$Checkpoint='" + CLEAN_CHECKPOINT + "'" in assignments(client.scripts[0])
    assert "Restore-VMSnapshot" in client.scripts[0]


def test_the_clean_checkpoint_cannot_be_removed_by_name():
    driver, client = recording_driver()
    with pytest.raises(InvalidValue):
        driver.remove_checkpoint("lab-1", CLEAN_CHECKPOINT)
    assert client.scripts == []


@pytest.mark.parametrize(
    "call",
    [
        lambda d: d.start_vm("lab 1"),
        lambda d: d.stop_vm("lab;1"),
        lambda d: d.checkpoint_vm("lab-1", "snap'1"),
        lambda d: d.restore_vm("lab-1", "*"),
        lambda d: d.delete_vm("lab-1", vm_root="C:\\a\\..\\b"),
        lambda d: d.grant_console("lab-1", "x'y"),
        lambda d: d.host_facts(["\\\\server\\share\\x.vhdx"]),
        lambda d: d.remove_switch("sw\u2019"),
    ],
)
def test_bad_values_are_refused_before_any_script(call):
    driver, client = recording_driver()
    with pytest.raises(InvalidValue):
        call(driver)
    assert client.scripts == []


def test_status_reads_the_answer():
    answer = {
        "Name": "lab-1",
        "VMId": "0b6f",
        "State": "Running",
        "Heartbeat": "OK",
        "IPAddresses": "10.20.0.5",
        "Uptime": 42,
    }
    driver, _ = recording_driver(answer)
    status = driver.vm_status("lab-1")
    assert status.ip_addresses == ["10.20.0.5"] and status.uptime_s == 42 and status.heartbeat == "OK"


def test_arrays_that_windows_powershell_5_1_wraps_are_read_as_arrays():
    """5.1 writes an array inside an array as {"value": [...], "Count": n} ([S18])."""
    answer = {
        "Name": "lab-1",
        "VMId": "0b6f",
        "State": "Running",
        "Heartbeat": "Ok",
        "Uptime": 42,
        "IPAddresses": {"value": ["10.20.0.5", {"value": ["fe80::1", "fe80::2"], "Count": 2}], "Count": 2},
    }
    driver, _ = recording_driver(answer)
    status = driver.vm_status("lab-1")
    assert status.ip_addresses == ["10.20.0.5", "fe80::1", "fe80::2"] and status.heartbeat == "OK"
    row = {"Name": "lab-2", "VMId": "b", "State": "Off", "Notes": "nestlab:x"}
    driver, _ = recording_driver({"value": [row], "Count": 1})
    assert [vm.name for vm in driver.list_tagged_vms()] == ["lab-2"]


def test_inventory_reads_one_row_or_many_and_parses_lab_ids():
    lab_id = uuid.uuid4()
    rows = [
        {"Name": "lab-1", "VMId": "a", "State": "Off", "Notes": "nestlab:" + str(lab_id) + " tenant:acme"},
        {"Name": "lab-2", "VMId": "b", "State": "Running", "Notes": "nestlab:garbled"},
    ]
    driver, _ = recording_driver(rows)
    tagged = driver.list_tagged_vms()
    assert [vm.lab_id for vm in tagged] == [lab_id, None]
    driver, _ = recording_driver([])
    assert driver.list_tagged_vms() == []


def test_host_facts_are_read_from_one_answer():
    answer = {
        "ComputerName": "HV01",
        "Caption": "Microsoft Windows Server 2019 Datacenter",
        "Build": "17763",
        "FreeKB": 8 * 1024 * 1024,
        "TotalKB": 16 * 1024 * 1024,
        "HypervisorPresent": True,
        "Manufacturer": "AuthenticAMD",
        "CpuName": "AMD EPYC 7302",
        "FirmwareVirt": False,
        "Slat": False,
        "VmMonitor": False,
        "HyperV": True,
        "Lp": 32,
        "Memory": 17179869184,
        "VmPath": "C:\\ProgramData\\Microsoft\\Windows\\Hyper-V",
        "VhdPath": "D:\\Labs",
        "Versions": [{"Version": "8.0", "IsDefault": False}, {"Version": "9.0", "IsDefault": True}],
        "Disks": {"DeviceID": "D:", "FreeSpace": 10, "Size": 20},
        "UiCulture": "de-DE",
    }
    driver, client = recording_driver(answer, [{"Path": "C:\\I\\a.vhdx", "Present": True}])
    facts = driver.host_facts(["C:\\I\\a.vhdx"])
    # The facts script never carries the base images (any number of them would not fit); they
    # are asked apart, in batches, in the same shell.
    assert "$Images" not in client.scripts[0] and "Get-WindowsFeature" not in client.scripts[0]
    assert "$Images=@('C:\\I\\a.vhdx')" in assignments(client.scripts[1])
    assert [(image.path, image.present) for image in facts.base_images] == [("C:\\I\\a.vhdx", True)]
    assert facts.ui_culture == "de-DE"
    assert facts.os_build == 17763 and facts.cpu_vendor == "amd"
    assert facts.supported_config_versions == ("8.0", "9.0") and facts.default_config_version == "9.0"
    assert facts.free_bytes_on("D:\\Labs") == 10
    assert facts.memory_free_bytes == 8 * 1024**3


def _value_names() -> set[str]:
    """Every variable the driver fills with a value (keyword arguments of build_script and
    _run_vm_script, and the Name every VM script gets)."""
    tree = ast.parse((HYPERV / "driver.py").read_text())
    names = {"name"}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and ast.unparse(node.func) in ("build_script", "self._run_vm_script"):
            names.update(keyword.arg.lower() for keyword in node.keywords if keyword.arg)
    return names


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_templates_never_overwrite_a_value_variable(name):
    """PowerShell variable names ignore case: a template assigning $mem would clobber $Mem."""
    import re

    assigned = {match.lower() for match in re.findall(r"\$(\w+)\s*=(?!=)", TEMPLATES[name])}
    assigned |= {match.lower() for match in re.findall(r"foreach\s*\(\s*\$(\w+)\s+in", TEMPLATES[name])}
    assert assigned & _value_names() == set()


def test_base_images_are_looked_up_in_batches_that_each_fit_and_a_refused_path_is_reported_not_raised():
    paths = ["C:\\Images\\" + "a" * 60 + "\\" + f"{index:02d}-" + "b" * 55 + ".vhdx" for index in range(40)]
    refused = "C:\\Images\\..\\x.vhdx"
    driver, client = recording_driver(*[[] for _ in range(10)])
    found = driver.base_images_present([*paths[:20], refused, *paths[20:]])
    assert len(client.scripts) > 1
    assert all(command_line_length(script) < MAX_COMMAND_LINE for script in client.scripts)
    sent = [path for script in client.scripts for path in paths if "'" + path + "'" in script]
    assert sent == paths and all(refused not in script for script in client.scripts)
    assert [image.path for image in found] == [*paths[:20], refused, *paths[20:]]
    assert found[20].problem and not found[20].present and not any(image.problem for image in found[:20])
