"""The host name rules (workers/hyperv/names.py): what they refuse, that the driver refuses it
before sending anything, and that derived host names never collide under Hyper-V's comparison."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.hyperv.test_driver_scripts import recording_driver
from workers.hyperv import names
from workers.hyperv.errors import InvalidValue
from workers.hyperv.interface import SwitchSpec, VmSpec


@pytest.mark.parametrize("name", ["before upgrade", "a" * 100, "Snap_1.2-b", "CONSOLE", "nestlab-clean"])
def test_checkpoint_names_hyper_v_accepts(name):
    assert names.check_checkpoint_name(name) == name


@pytest.mark.parametrize(
    ("name", "rule"),
    [
        ("", "required"),
        ("a" * 101, "at most 100"),
        ("CON", "device name"),
        ("com1.snap", "device name"),
        ("snap.", "end with a dot"),
        ("snap ", "end with a dot or a space"),
        (" snap", "start with a letter"),
        ("snap*", "may contain only"),
        ("snap[1]", "may contain only"),
        ("sn\u2019ap", "may contain only"),
        ("\u0669snap", "may contain only"),
    ],
)
def test_checkpoint_names_hyper_v_refuses_name_the_rule(name, rule):
    with pytest.raises(InvalidValue, match="checkpoint name") as refused:
        names.check_checkpoint_name(name)
    assert rule in str(refused.value)


def test_people_may_not_take_nestlabs_own_checkpoint_names():
    with pytest.raises(InvalidValue, match="reserved"):
        names.check_user_checkpoint_name("NESTLAB-clean")


@pytest.mark.parametrize("slug", ["con", "-dash", "dash-", "_x", "Acme", "a" * 41, "a_b", "caf\u00e9", "nul"])
def test_tenant_slugs_that_would_break_host_names_are_refused(slug):
    with pytest.raises(InvalidValue, match="slug"):
        names.check_tenant_slug(slug)


@pytest.mark.parametrize("value", ["\u0669.0", "9.\u0660", "\uff19.0", "9", "9.0.1", "v9.0"])
def test_config_versions_need_ascii_digits(value):
    with pytest.raises(InvalidValue, match="config_version"):
        names.check_config_version(value)


def test_memory_must_be_a_multiple_of_two_mb():
    assert names.check_memory_mb(4096) == 4096
    with pytest.raises(InvalidValue, match="multiple of 2 MB"):
        names.check_memory_mb(4097)


@pytest.mark.parametrize(
    "call",
    [
        lambda driver: driver.checkpoint_vm("nestlab-x", "CON"),
        lambda driver: driver.checkpoint_vm("nestlab-x", "snap."),
        lambda driver: driver.checkpoint_vm("nestlab-x", "a" * 101),
        lambda driver: driver.restore_vm("nestlab-x", "snap*"),
        lambda driver: driver.remove_checkpoint("nestlab-x", "NESTLAB-CLEAN"),
        lambda driver: driver.start_vm("a" * 101),
        lambda driver: driver.start_vm("PRN"),
        lambda driver: driver.delete_vm("nestlab-x", vm_root="C:\\Labs\\..\\Windows"),
        lambda driver: driver.remove_switch("s" * 65),
        lambda driver: driver.host_facts(["C:\\Images\\ base.vhdx"]),
    ],
)
def test_the_driver_refuses_before_sending_anything(call):
    driver, client = recording_driver()
    with pytest.raises(InvalidValue):
        call(driver)
    assert client.scripts == []


def spec(**overrides) -> VmSpec:
    values = dict(
        name="nestlab-vm",
        lab_id=uuid.uuid4(),
        tenant_slug="acme",
        vcpus=2,
        memory_mb=4096,
        disk_gb=40,
        base_image_path="C:\\Images\\base.vhdx",
        vm_root="C:\\Nestlab\\Labs",
        generation=2,
        config_version="10.0",
        switch_name="nestlab-acme-private",
    )
    return VmSpec(**{**values, **overrides})


@pytest.mark.parametrize(
    "overrides",
    [
        {"memory_mb": 4097},
        {"config_version": "\u0669.0"},
        {"base_image_path": "C:\\Images\\..\\base.vhdx"},
        {"base_image_path": "C:\\Images\\aux.vhdx"},
        {"vm_root": " C:\\Labs"},
        {"tenant_slug": "-acme"},
    ],
)
def test_a_vm_spec_the_host_would_refuse_cannot_be_built(overrides):
    with pytest.raises(InvalidValue):
        spec(**overrides)


def test_a_checkpoint_name_with_spaces_reaches_the_host_quoted():
    driver, client = recording_driver("nestlab-x")
    driver.checkpoint_vm("nestlab-x", "before upgrade")
    assert "$Checkpoint='before upgrade'" in client.scripts[0]


# --- Derived host names never collide --------------------------------------------------------

slugs = st.from_regex(r"[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?", fullmatch=True).filter(
    lambda slug: not names.is_device_name(slug)
)
modes = st.sampled_from(["private", "nat"])


def host_key(name: str) -> str:
    """How Hyper-V compares names: without case."""
    return name.casefold()


@given(slugs, modes, slugs, modes)
def test_two_tenants_never_share_a_switch_on_a_host(slug_a, mode_a, slug_b, mode_b):
    a, b = names.tenant_switch_name(slug_a, mode_a), names.tenant_switch_name(slug_b, mode_b)
    for name in (a, b):
        assert len(name) <= names.MAX_SWITCH_NAME and names.check_switch_name(name) == name
        SwitchSpec(name=name, mode="private")
    if (slug_a.casefold(), mode_a) != (slug_b.casefold(), mode_b):
        assert host_key(a) != host_key(b)


@given(st.uuids(), st.uuids(), slugs, modes)
def test_two_labs_never_share_a_vm_name_or_a_lab_switch(lab_a, lab_b, slug, mode):
    for lab in (lab_a, lab_b):
        assert len(names.vm_name(lab)) <= names.MAX_VM_NAME
        assert names.lab_switch_name(lab) != names.tenant_switch_name(slug, mode).casefold()
    if lab_a != lab_b:
        assert host_key(names.vm_name(lab_a)) != host_key(names.vm_name(lab_b))
        assert host_key(names.lab_switch_name(lab_a)) != host_key(names.lab_switch_name(lab_b))


@given(st.text(min_size=1, max_size=120), st.text(min_size=1, max_size=120))
def test_names_cut_to_fit_keep_a_hash_of_the_whole_identity(a, b):
    long_a, long_b = "nestlab-" + "x" * 80 + a, "nestlab-" + "x" * 80 + b
    fit_a, fit_b = names._fit(long_a, 64, a), names._fit(long_b, 64, b)
    assert len(fit_a) <= 64 and len(fit_b) <= 64
    if a != b:
        assert fit_a != fit_b
