"""HyperVDriver against hvsim over real HTTP and HTTPS, through pywinrm.

One simulator per module for tests that use their own names; separate simulators where a test
needs a particular host (the doctor's problem hosts, TLS, wrong credentials).
"""

from __future__ import annotations

import datetime
import ipaddress
import time
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.hyperv.conftest import IMAGE, ROOT, connect, vm_spec
from workers.hyperv.doctor import doctor_checks
from workers.hyperv.driver import HyperVDriver
from workers.hyperv.errors import (
    AuthenticationFailed,
    HostError,
    HostUnreachable,
    HypervisorError,
    InsufficientResources,
    InvalidState,
    InvalidValue,
    NotFound,
    Timeout,
)
from workers.hyperv.interface import CLEAN_CHECKPOINT, SwitchSpec, VmSpec
from workers.hyperv.powershell import NAME_RE, build_script, validate_name, validate_windows_path
from workers.hyperv.simulator.testing import SimHandle, run_simulator

pytestmark = pytest.mark.integration

NAT_POOL = "10.64.0.0/10"


@pytest.fixture(scope="module")
def sim():
    with run_simulator(cpus=16, memory_mb=65536) as handle:
        yield handle


@pytest.fixture
def driver(sim) -> HyperVDriver:
    sim.clear_faults()
    return connect(sim)


@pytest.fixture
def unique(sim) -> str:
    """A fresh VM name (switches are "sw-<name>"); whatever the test left is removed after it."""
    name = "t-" + uuid.uuid4().hex[:10]
    yield name
    sim.clear_faults()
    cleaner = connect(sim)
    try:
        cleaner.delete_vm(name, vm_root=ROOT)
    except (HostError, InvalidState):
        pass  # duplicates or foreign VMs the test made on purpose: the module's host goes anyway
    cleaner.remove_switch("sw-" + name, force=True)


def vms_named(sim: SimHandle, name: str) -> list[dict]:
    return [vm for vm in sim.state()["vms"] if vm["name"].lower() == name.lower()]


def disks_under(sim: SimHandle, folder: str) -> list[dict]:
    return [disk for disk in sim.state()["disks"] if disk["path"].lower().startswith(folder.lower() + "\\")]


def switches_named(sim: SimHandle, name: str) -> list[dict]:
    return [switch for switch in sim.state()["switches"] if switch["name"] == name]


def assert_built(sim: SimHandle, spec: VmSpec) -> None:
    """Exactly one VM, built as specified, with one differencing disk over the base image."""
    [vm] = vms_named(sim, spec.name)
    assert vm["notes"] == spec.notes
    assert vm["processor_count"] == spec.vcpus and vm["expose_virtualization_extensions"] is True
    assert vm["dynamic_memory"] is False and vm["memory_startup"] == spec.memory_mb * 1024 * 1024
    assert vm["automatic_checkpoints"] is False and vm["checkpoint_type"] == "Standard"
    assert vm["generation"] == spec.generation and vm["version"] == spec.config_version
    [adapter] = vm["adapters"]
    assert adapter["switch_name"] == spec.switch_name
    assert adapter["dhcp_guard"] and adapter["router_guard"] and adapter["mac_address_spoofing"]
    assert adapter["access_vlan_id"] == spec.vlan_id
    assert [checkpoint["name"] for checkpoint in vm["checkpoints"]] == [CLEAN_CHECKPOINT]
    [disk] = disks_under(sim, spec.folder)
    assert disk["path"] == spec.disk_path and disk["vhd_type"] == "Differencing"
    assert disk["parent_path"] == spec.base_image_path
    assert vm["hard_drives"] == [spec.disk_path]


# --- every operation ------------------------------------------------------------------------------


def test_every_operation_works(sim, driver, unique):
    switch = "sw-" + unique
    driver.ensure_switch(SwitchSpec(switch, "private"))
    spec = vm_spec(unique, switch=switch)
    steps: list[str] = []
    vm_id = driver.ensure_vm(spec, on_step=steps.append)
    assert steps == ["disk", "vm", "notes", "processor", "network", "checkpoint"]
    assert_built(sim, spec)

    driver.start_vm(unique)
    status = driver.vm_status(unique)
    assert (status.name, status.vm_id, status.state) == (unique, vm_id, "Running")
    deadline = time.monotonic() + 10
    while status.heartbeat != "OK" and time.monotonic() < deadline:
        time.sleep(0.2)
        status = driver.vm_status(unique)
    assert status.heartbeat == "OK" and status.uptime_s >= 0

    tagged = {vm.name: vm for vm in driver.list_tagged_vms()}
    assert tagged[unique].lab_id == spec.lab_id and tagged[unique].state == "Running"
    assert driver.grant_console(unique, "ACME\\student1") == vm_id
    assert driver.grant_console(unique, "ACME\\student1") == vm_id
    assert vms_named(sim, unique)[0]["connect_access"] == ["ACME\\student1"]
    usage = driver.measure_vm(unique)
    assert usage.average_memory_mb == 4096 and vms_named(sim, unique)[0]["resource_metering"] is True

    driver.reset_vm(unique)
    assert driver.vm_status(unique).state == "Running"
    driver.stop_vm(unique, graceful_timeout_s=10)
    driver.stop_vm(unique, graceful_timeout_s=10)
    assert driver.vm_status(unique).state == "Off"

    driver.checkpoint_vm(unique, "before-exam")
    driver.checkpoint_vm(unique, "before-exam")
    driver.start_vm(unique)
    driver.restore_vm(unique, "before-exam")
    assert driver.vm_status(unique).state == "Running"  # restore keeps the power state
    driver.remove_checkpoint(unique, "before-exam")
    driver.remove_checkpoint(unique, "before-exam")
    assert [c["name"] for c in vms_named(sim, unique)[0]["checkpoints"]] == [CLEAN_CHECKPOINT]
    with pytest.raises(NotFound):
        driver.restore_vm(unique, "before-exam")

    driver.start_vm(unique)
    driver.delete_vm(unique, vm_root=ROOT)
    driver.delete_vm(unique, vm_root=ROOT)
    assert vms_named(sim, unique) == [] and disks_under(sim, spec.folder) == []
    assert spec.folder not in sim.state()["directories"]
    with pytest.raises(NotFound):
        driver.vm_status(unique)
    driver.remove_switch(switch)
    driver.remove_switch(switch)
    assert switches_named(sim, switch) == []


def test_each_ensure_twice_leaves_one_vm_one_disk_one_switch(sim, driver, unique):
    switch = "sw-" + unique
    for _ in range(2):
        driver.ensure_switch(SwitchSpec(switch, "private"))
    spec = vm_spec(unique, switch=switch)
    first = driver.ensure_vm(spec)
    steps: list[str] = []
    assert driver.ensure_vm(spec, on_step=steps.append) == first
    assert steps == []
    assert len(switches_named(sim, switch)) == 1
    assert_built(sim, spec)
    driver.start_vm(unique)
    assert driver.ensure_vm(spec) == first  # a running lab is left alone


def test_nat_and_vlan_switches(sim, driver, unique):
    nat = SwitchSpec("nat-" + unique, "nat", nat_prefix="10.77.0.0/24", nat_pool=NAT_POOL)
    driver.ensure_switch(nat)
    driver.ensure_switch(nat)
    state = sim.state()
    assert [s["switch_type"] for s in switches_named(sim, nat.name)] == ["Internal"]
    assert [(n["name"], n["internal_prefix"]) for n in state["nats"]] == [("nestlab-nat", NAT_POOL)]
    gateways = [a for a in state["host_ip_addresses"] if a["interface_alias"] == "vEthernet (" + nat.name + ")"]
    assert [(a["ip_address"], a["prefix_length"]) for a in gateways] == [("10.77.0.1", 24)]

    vlan = SwitchSpec("vl-" + unique, "vlan", external_adapter="Ethernet 2")
    driver.ensure_switch(vlan)
    [external] = switches_named(sim, vlan.name)
    assert external["switch_type"] == "External" and external["allow_management_os"] is False
    with pytest.raises(InvalidValue, match="access VLAN"):
        driver.ensure_vm(vm_spec(unique, switch=vlan.name))
    assert vms_named(sim, unique) == []
    spec = vm_spec(unique, switch=vlan.name, vlan_id=210)
    driver.ensure_vm(spec)
    assert_built(sim, spec)

    with pytest.raises(InvalidState):
        driver.ensure_switch(SwitchSpec(nat.name, "private"))
    driver.delete_vm(unique, vm_root=ROOT)
    for name in (nat.name, vlan.name):
        driver.remove_switch(name)
    state = sim.state()
    assert [n["name"] for n in state["nats"]] == ["nestlab-nat"]  # the host's one NetNat stays
    assert not switches_named(sim, vlan.name) and not switches_named(sim, nat.name)


def test_a_switch_with_connected_adapters_is_kept_unless_forced(sim, driver, unique):
    switch = "sw-" + unique
    driver.ensure_switch(SwitchSpec(switch, "private"))
    driver.ensure_vm(vm_spec(unique, switch=switch))
    with pytest.raises(InvalidState, match="still has 1 connected"):
        driver.remove_switch(switch)
    assert switches_named(sim, switch)
    driver.remove_switch(switch, force=True)
    assert not switches_named(sim, switch)
    assert vms_named(sim, unique)[0]["adapters"][0]["switch_name"] is None


def test_vms_nestlab_did_not_make_are_never_touched(sim, driver, unique):
    sim.run_ps("New-VM -Name " + unique + " -NoVHD -Path C:\\Other | Out-Null")
    sim.run_ps("Set-VM -Name " + unique + " -Notes 'finance'")
    assert unique not in {vm.name for vm in driver.list_tagged_vms()}
    with pytest.raises(InvalidState):
        driver.delete_vm(unique, vm_root=ROOT)
    with pytest.raises(InvalidState):
        driver.ensure_vm(vm_spec(unique, switch="any-switch"))
    assert vms_named(sim, unique)[0]["notes"] == "finance"


def test_two_vms_with_one_name_are_refused_not_guessed(sim, driver, unique):
    switch = "sw-" + unique
    driver.ensure_switch(SwitchSpec(switch, "private"))
    driver.ensure_vm(vm_spec(unique, switch=switch))
    sim.run_ps("New-VM -Name " + unique + " -NoVHD -Path C:\\Other | Out-Null")
    for call in (
        lambda: driver.ensure_vm(vm_spec(unique, switch=switch)),
        lambda: driver.start_vm(unique),
        lambda: driver.delete_vm(unique, vm_root=ROOT),
    ):
        with pytest.raises(HostError, match="2 virtual machines"):
            call()
    assert len(vms_named(sim, unique)) == 2


def test_an_amd_host_on_server_2019_refuses_to_nest_and_the_fake_agrees():
    from dataclasses import replace

    from workers.hyperv.fake import FakeDriver, default_facts

    spec = vm_spec("amd-lab", switch="sw", config_version="9.0")
    with run_simulator(cpu_vendor="amd", os_build=17763) as amd_host:
        driver = connect(amd_host)
        driver.ensure_switch(SwitchSpec("sw", "private"))
        with pytest.raises(InvalidState, match="virtualization extensions"):
            driver.ensure_vm(spec)
    fake = FakeDriver(
        base_images={IMAGE},
        facts=replace(
            default_facts(), cpu_manufacturer="AuthenticAMD", os_build=17763, supported_config_versions=("9.0",)
        ),
    )
    fake.ensure_switch(SwitchSpec("sw", "private"))
    with pytest.raises(InvalidState, match="virtualization extensions"):
        fake.ensure_vm(spec)


def test_starting_beyond_memory_is_insufficient_resources(unique):
    with run_simulator(memory_mb=8192) as small:
        driver = connect(small)
        driver.ensure_switch(SwitchSpec("sw", "private"))
        driver.ensure_vm(vm_spec("big", switch="sw", memory_mb=7168))
        with pytest.raises(InsufficientResources) as caught:
            driver.start_vm("big")
        assert caught.value.transient and "Not enough memory" in caught.value.host_message


# --- faults: resumable create, hangs, dropped answers ----------------------------------------------------

CREATE_CMDLETS = [
    "New-Item",
    "New-VHD",
    "New-VM",
    "Set-VM",
    "Set-VMProcessor",
    "Set-VMNetworkAdapter",
    "Set-VMNetworkAdapterVlan",
    "Checkpoint-VM",
]


@pytest.mark.parametrize("kind", ["error", "drop"])
@pytest.mark.parametrize("cmdlet", CREATE_CMDLETS)
def test_a_fault_at_any_create_step_leaves_a_state_a_second_run_completes(sim, driver, unique, cmdlet, kind):
    switch = "sw-" + unique
    driver.ensure_switch(SwitchSpec(switch, "vlan", external_adapter="Ethernet 2"))
    spec = vm_spec(unique, switch=switch, vlan_id=42)
    sim.add_fault(kind, cmdlet=cmdlet, times=1, message="injected at " + cmdlet)
    first_steps: list[str] = []
    with pytest.raises(HypervisorError) as caught:
        driver.ensure_vm(spec, on_step=first_steps.append)
    assert isinstance(caught.value, HostUnreachable if kind == "drop" else HostError)
    assert sim.faults() == []
    second_steps: list[str] = []
    driver.ensure_vm(spec, on_step=second_steps.append)
    assert_built(sim, spec)
    if kind == "error":  # the failed step and every later one ran on the second call only
        assert set(first_steps).isdisjoint(second_steps)
    driver.delete_vm(unique, vm_root=ROOT)
    driver.remove_switch(switch)


def test_a_hung_cmdlet_is_cut_at_the_deadline(sim, unique):
    driver = connect(sim, call_deadline_s=2)
    sim.clear_faults()
    driver.ensure_switch(SwitchSpec("sw-" + unique, "private"))
    driver.ensure_vm(vm_spec(unique, switch="sw-" + unique))
    sim.add_fault("hang", cmdlet="Start-VM", times=1)
    started = time.monotonic()
    with pytest.raises(Timeout) as caught:
        driver.start_vm(unique)
    elapsed = time.monotonic() - started
    assert 1.9 <= elapsed < 4, elapsed
    assert caught.value.transient
    driver.start_vm(unique)  # the host answers again once the hang is gone
    assert driver.vm_status(unique).state == "Running"


def test_a_guest_that_does_not_shut_down_is_turned_off(sim, driver, unique):
    driver.ensure_switch(SwitchSpec("sw-" + unique, "private"))
    driver.ensure_vm(vm_spec(unique, switch="sw-" + unique))
    driver.start_vm(unique)
    sim.add_fault("hang", cmdlet="Stop-VM", times=1)
    started = time.monotonic()
    driver.stop_vm(unique, graceful_timeout_s=1)
    assert time.monotonic() - started < 4
    assert driver.vm_status(unique).state == "Off"


def test_a_dropped_connection_is_host_unreachable(sim, driver):
    sim.add_fault("drop", wsman_action="Create", times=1)
    with pytest.raises(HostUnreachable) as caught:
        driver.list_tagged_vms()
    assert caught.value.transient
    driver.list_tagged_vms()


def test_a_wrong_password_fails_once_and_is_not_retried(sim):
    driver = connect(sim, password="not-the-password")
    with pytest.raises(AuthenticationFailed) as caught:
        driver.list_tagged_vms()
    assert caught.value.transient is False
    assert driver.round_trips == 1
    assert "not-the-password" not in str(caught.value) + repr(caught.value) + repr(driver)


def test_the_driver_carries_on_after_the_host_restarts():
    with run_simulator() as host:
        driver = connect(host)
        driver.ensure_switch(SwitchSpec("sw", "private"))
        host.restart()  # new process, same port and state: the kept-alive connection is gone
        driver.ensure_switch(SwitchSpec("sw", "private"))
        assert [switch["name"] for switch in host.state()["switches"]] == ["sw"]


def test_a_dead_port_is_host_unreachable(sim):
    with run_simulator() as other:
        port = other.port
    driver = connect(sim, port=port, call_deadline_s=5)
    with pytest.raises(HostUnreachable):
        driver.list_tagged_vms()


def test_round_trips_per_operation(sim, driver, unique):
    """One script per operation (open shell, command, receive, signal, close); building a VM
    runs a second script in the same shell (command, receive, signal)."""
    switch = "sw-" + unique
    spec = vm_spec(unique, switch=switch)
    counts = {}
    for operation, call in [
        ("ensure_switch", lambda: driver.ensure_switch(SwitchSpec(switch, "private"))),
        ("build_vm", lambda: driver.ensure_vm(spec)),
        ("ensure_vm", lambda: driver.ensure_vm(spec)),
        ("start_vm", lambda: driver.start_vm(unique)),
        ("vm_status", lambda: driver.vm_status(unique)),
        ("stop_vm", lambda: driver.stop_vm(unique)),
        ("delete_vm", lambda: driver.delete_vm(unique, vm_root=ROOT)),
    ]:
        before = driver.round_trips
        call()
        counts[operation] = driver.round_trips - before
    assert counts == {**dict.fromkeys(counts, 5), "build_vm": 8}, counts


# --- values are never code -------------------------------------------------------------------------

SET_NOTES_PROBE = """
Set-VM -Name $Name -Notes $Notes
ConvertTo-Json -InputObject (Get-VM -Name $Name).Notes -Compress
"""
EXISTS_PROBE = """
ConvertTo-Json -InputObject @(foreach($p in $Paths){[bool](Test-Path -LiteralPath $p)}) -Compress
"""

hostile_text = st.text(
    alphabet=st.one_of(
        st.sampled_from("'\u2018\u2019\u201a\u201b\"\u201c\u201d\u201e`$;|&(){}[]@#<>\r\n\t -"),
        st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")),
    ),
    max_size=60,
)


@pytest.fixture(scope="module")
def probe_vm(sim):
    name = "probe-" + uuid.uuid4().hex[:8]
    sim.run_ps("New-VM -Name " + name + " -NoVHD -Path C:\\Probe | Out-Null")
    return name


def structure(sim: SimHandle, *, except_vm: str | None = None) -> dict:
    """What a script could change on purpose: objects, names, notes, wiring (not uptimes)."""
    state = sim.state()
    return {
        "vms": [
            (
                vm["id"],
                vm["name"],
                vm["notes"],
                vm["state"],
                [c["name"] for c in vm["checkpoints"]],
                vm["hard_drives"],
                [(a["switch_name"], a["access_vlan_id"]) for a in vm["adapters"]],
            )
            for vm in state["vms"]
            if vm["name"] != except_vm
        ],
        "disks": state["disks"],
        "directories": state["directories"],
        "switches": state["switches"],
        "nats": state["nats"],
        "host_ip_addresses": state["host_ip_addresses"],
    }


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(notes=hostile_text)
def test_any_text_reaches_the_host_as_exactly_that_text(sim, probe_vm, notes):
    driver = connect(sim)
    before = structure(sim, except_vm=probe_vm)
    echoed = driver.client.run_script(build_script(SET_NOTES_PROBE, Name=probe_vm, Notes=notes))
    assert echoed == notes
    assert vms_named(sim, probe_vm)[0]["notes"] == notes
    assert structure(sim, except_vm=probe_vm) == before


def _allowed(name: str) -> bool:
    try:
        validate_name(name)
    except InvalidValue:
        return False
    return True


allowed_names = st.from_regex(NAME_RE, fullmatch=True).filter(_allowed)
path_segments = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9 ._()-]{0,20}", fullmatch=True).filter(
    lambda segment: _allowed_path("C:\\" + segment)
)


def _allowed_path(path: str) -> bool:
    try:
        validate_windows_path(path)
    except InvalidValue:
        return False
    return True


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=allowed_names, checkpoint=allowed_names, tenant=allowed_names)
def test_allowed_names_build_exactly_the_named_objects(sim, name, checkpoint, tenant):
    """VM, switch, tenant and checkpoint names straight from the allowed pattern."""
    driver = connect(sim)
    name = name[:50] + "-" + uuid.uuid4().hex[:6]
    switch = ("s" + name)[:64]
    before = {vm["name"] for vm in sim.state()["vms"]}
    driver.ensure_switch(SwitchSpec(switch, "private"))
    spec = vm_spec(name, switch=switch, tenant_slug=tenant)
    driver.ensure_vm(spec)
    driver.checkpoint_vm(name, checkpoint)
    [vm] = vms_named(sim, name)
    assert vm["notes"] == spec.notes
    assert {c["name"] for c in vm["checkpoints"]} == {CLEAN_CHECKPOINT, checkpoint}
    assert {v["name"] for v in sim.state()["vms"]} == before | {name}
    driver.delete_vm(name, vm_root=ROOT)
    driver.remove_switch(switch)
    assert {v["name"] for v in sim.state()["vms"]} == before


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(segments=st.lists(path_segments, min_size=1, max_size=4))
def test_allowed_paths_are_looked_up_as_exactly_those_paths(sim, segments):
    path = "C:\\" + "\\".join(segments) + ".vhdx"
    driver = connect(sim)
    before = structure(sim)
    facts = driver.host_facts([path, IMAGE])
    assert [(image.path, image.present) for image in facts.base_images] == [(path, False), (IMAGE, True)]
    assert structure(sim) == before


def test_a_base_image_path_with_spaces_and_parentheses_is_used_verbatim(unique):
    odd_image = "C:\\Nestlab Images (x64)\\win-2022 core_v1.2.vhdx"
    with run_simulator(base_images=odd_image) as host:
        driver = connect(host)
        driver.ensure_switch(SwitchSpec("sw", "private"))
        spec = vm_spec(unique, switch="sw", base_image_path=odd_image, vm_root="C:\\Lab VMs (nested)")
        driver.ensure_vm(spec)
        assert_built(host, spec)
        assert [image.present for image in driver.host_facts([odd_image]).base_images] == [True]
        driver.delete_vm(unique, vm_root=spec.vm_root)
        assert disks_under(host, spec.folder) == [] and vms_named(host, unique) == []


# --- TLS ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1, and its key, as PEM files."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hvsim.test")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.IPv4Address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return str(cert_path), str(key_path)


def test_https_with_certificate_validation(certificate, unique):
    cert_path, key_path = certificate
    with run_simulator(cert=cert_path, key=key_path) as tls_sim:
        assert tls_sim.tls
        driver = connect(tls_sim, ca_bundle=cert_path)
        driver.ensure_switch(SwitchSpec("sw", "private"))
        spec = vm_spec(unique, switch="sw")
        driver.ensure_vm(spec)
        driver.start_vm(unique)
        assert driver.vm_status(unique).state == "Running"
        assert_built(tls_sim, spec)

        untrusting = connect(tls_sim)  # validation on, without the CA bundle
        with pytest.raises(HostError, match="TLS"):
            untrusting.list_tagged_vms()


# --- the doctor over simulated hosts ----------------------------------------------------------------------


def doctor_over(**options):
    with run_simulator(**options) as host:
        driver = connect(host)
        facts = driver.host_facts([IMAGE])
        checks = doctor_checks(facts, transport="plaintext", use_tls=False, is_simulator=True, base_images=[IMAGE])
    return {check.name: check for check in checks}


def failing(checks) -> dict[str, str]:
    return {name: check.detail for name, check in checks.items() if check.status == "fail"}


def test_the_doctor_passes_a_healthy_simulated_host():
    checks = doctor_over()
    assert failing(checks) == {}
    assert {check.status for check in checks.values()} == {"pass"}


def test_the_doctor_on_an_amd_host_with_server_2019():
    failures = failing(doctor_over(cpu_vendor="amd", os_build=17763))
    assert set(failures) == {"nesting_os", "config_version"}
    assert "AMD host runs Windows Server 2019 (build 17763)" in failures["nesting_os"]
    assert "only up to 9.0" in failures["config_version"]


def test_the_doctor_on_a_host_with_virtualization_off_in_firmware():
    failures = failing(doctor_over(no_firmware_virtualization=True))
    assert "firmware_virtualization" in failures
    assert "nesting_os" not in failures and "base_images" not in failures


def test_the_doctor_on_a_host_missing_a_base_image():
    failures = failing(doctor_over(missing_base_image=[IMAGE]))
    assert set(failures) == {"base_images"}
    assert IMAGE in failures["base_images"]


def test_the_doctor_on_a_host_without_the_hyperv_role():
    failures = failing(doctor_over(no_hyperv_role=True))
    assert set(failures) == {"hyperv_role"}


def test_the_three_problem_hosts_read_differently():
    readings = [
        frozenset(failing(doctor_over(**options)).items())
        for options in (
            {"cpu_vendor": "amd", "os_build": 17763},
            {"no_firmware_virtualization": True},
            {"missing_base_image": [IMAGE]},
        )
    ]
    assert len(set(readings)) == 3 and all(readings)
