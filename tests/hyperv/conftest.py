"""Fixtures for the simulator's tests: one simulator process per session for tests that tolerate
shared state, a helper to run a script and parse its JSON, and the driver over a simulator."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from workers.hyperv.driver import HyperVDriver
from workers.hyperv.interface import ConnectionSpec, VmSpec
from workers.hyperv.simulator.testing import SimHandle, run_simulator

PROLOGUE = "$ErrorActionPreference='Stop'; $ProgressPreference='SilentlyContinue'\n"
IMAGE = "C:\\NestlabImages\\win2022-base.vhdx"
ROOT = "C:\\Nestlab\\Labs"


def connect(sim: SimHandle, **overrides) -> HyperVDriver:
    """HyperVDriver over ``sim`` (Basic, over HTTPS when it serves TLS), each call bounded to 20 s;
    ``overrides`` replace any ConnectionSpec field."""
    return HyperVDriver(ConnectionSpec(**sim.connection_options(**{"call_deadline_s": 20, **overrides})))


def vm_spec(name: str, *, switch: str, **overrides) -> VmSpec:
    """A small lab VM on the simulator's base image under ROOT; ``overrides`` replace any field."""
    values = dict(
        name=name,
        lab_id=uuid.uuid4(),
        tenant_slug="acme",
        vcpus=2,
        memory_mb=4096,
        disk_gb=60,
        base_image_path=IMAGE,
        vm_root=ROOT,
        generation=2,
        config_version="10.0",
        switch_name=switch,
        vlan_id=None,
    )
    values.update(overrides)
    return VmSpec(**values)


@pytest.fixture(scope="session")
def simulator() -> SimHandle:
    with run_simulator() as handle:
        yield handle


@pytest.fixture(scope="session")
def session(simulator):
    return simulator.session()


@pytest.fixture
def unique() -> str:
    """A fresh name, so tests sharing one simulator never see each other's objects."""
    return f"t-{uuid.uuid4().hex[:10]}"


class ScriptFailed(AssertionError):
    def __init__(self, response):
        super().__init__(f"exit {response.status_code}: {response.std_err.decode(errors='replace')}")
        self.response = response
        self.error = response.std_err.decode(errors="replace")


def run_json(session, script: str) -> Any:
    """Run a script with the usual prologue; return its parsed JSON output (None when it printed nothing)."""
    response = session.run_ps(PROLOGUE + script)
    if response.status_code != 0:
        raise ScriptFailed(response)
    text = response.std_out.decode("utf-8").strip()
    return json.loads(text) if text else None


def run_error(session, script: str) -> str:
    """Run a script that must fail; return pywinrm's cleaned error text with the host's
    console-width line wraps (a piece ending in a space, the rest indented) joined back."""
    response = session.run_ps(PROLOGUE + script)
    assert response.status_code == 1, f"expected failure, got {response.status_code}: {response.std_out!r}"
    return response.std_err.decode("utf-8", errors="replace").replace(" \n   ", "")
