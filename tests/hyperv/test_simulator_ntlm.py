"""NTLM with message encryption over HTTP, as real hosts take it (docs/winrm.md, "HTTP"): pywinrm
unmodified, and the driver's default real-host transport, against hvsim."""

from __future__ import annotations

import uuid

import pytest
import requests
import winrm
from winrm.exceptions import InvalidCredentialsError, WinRMTransportError

from tests.hyperv.conftest import connect, vm_spec
from workers.hyperv.driver import HyperVDriver
from workers.hyperv.errors import AuthenticationFailed, HostUnreachable
from workers.hyperv.interface import CLEAN_CHECKPOINT, SwitchSpec
from workers.hyperv.simulator.ntlm import PROTOCOL
from workers.hyperv.simulator.testing import run_simulator

HOST_FACTS = "Get-VMHost | Select-Object LogicalProcessorCount | ConvertTo-Json -Compress"


@pytest.fixture(scope="module")
def sim():
    with run_simulator(cpus=16, memory_mb=65536) as handle:
        yield handle


def ntlm_driver(sim, **overrides) -> HyperVDriver:
    return connect(sim, transport="ntlm", allow_plaintext=False, **overrides)


@pytest.mark.parametrize("encryption", ["auto", "always"])
def test_pywinrm_ntlm_with_message_encryption_runs_scripts(sim, encryption):
    session = winrm.Session(sim.url, auth=(sim.user, sim.password), transport="ntlm", message_encryption=encryption)
    response = session.run_ps(HOST_FACTS)
    assert response.status_code == 0 and response.std_out.strip() == b'{"LogicalProcessorCount":16}'
    encryption_used = session.protocol.transport.encryption
    assert encryption_used is not None and encryption_used.protocol_string.decode() == PROTOCOL


def test_the_bodies_on_the_wire_are_encrypted_both_ways(sim):
    seen: list[tuple[str, str, bytes]] = []
    session = winrm.Session(sim.url, auth=(sim.user, sim.password), transport="ntlm")
    http = session.protocol.transport.build_session()
    http.hooks["response"].append(
        lambda response, **_: seen.append(
            (
                response.request.headers.get("Content-Type", ""),
                response.headers.get("Content-Type", ""),
                bytes(response.request.body or b"") + response.content,
            )
        )
    )
    assert session.run_ps("'secret-marker-' + 'x'").std_out.strip() == b"secret-marker-x"
    soap = [(sent, answered, raw) for sent, answered, raw in seen if raw]
    assert soap and all(
        sent.startswith("multipart/encrypted")
        and answered.startswith("multipart/encrypted")
        and PROTOCOL in answered
        and b"Envelope" not in raw
        and b"secret-marker" not in raw
        for sent, answered, raw in soap
    )


def test_ntlm_without_encryption_over_http_is_refused_like_allow_unencrypted_false(sim):
    session = winrm.Session(sim.url, auth=(sim.user, sim.password), transport="ntlm", message_encryption="never")
    with pytest.raises(WinRMTransportError) as caught:
        session.run_ps("1")
    assert caught.value.code == 400


def test_a_wrong_ntlm_password_is_invalid_credentials(sim):
    session = winrm.Session(sim.url, auth=(sim.user, "not-the-password"), transport="ntlm")
    with pytest.raises(InvalidCredentialsError):
        session.run_ps("1")
    driver = ntlm_driver(sim, password="not-the-password")
    with pytest.raises(AuthenticationFailed):
        driver.list_tagged_vms()


def test_basic_still_works_beside_ntlm(sim):
    basic = winrm.Session(sim.url, auth=(sim.user, sim.password), transport="plaintext")
    assert basic.run_ps("1+1").std_out == b"2\r\n"
    answer = requests.post(sim.url, data=b"", timeout=5)
    assert answer.status_code == 401
    assert "Negotiate" in answer.headers["WWW-Authenticate"] and "Basic" in answer.headers["WWW-Authenticate"]


def test_the_driver_builds_runs_and_deletes_a_lab_over_ntlm_with_encryption(sim):
    driver = ntlm_driver(sim)
    name = "t-" + uuid.uuid4().hex[:10]
    driver.ensure_switch(SwitchSpec("sw-" + name, "private"))
    spec = vm_spec(name, switch="sw-" + name)
    driver.ensure_vm(spec)
    driver.start_vm(name)
    assert driver.vm_status(name).state == "Running"
    driver.checkpoint_vm(name, "mid")
    driver.restore_vm(name, CLEAN_CHECKPOINT)
    driver.stop_vm(name, graceful_timeout_s=5)
    assert [vm.name for vm in driver.list_tagged_vms()] == [name]
    driver.delete_vm(name, vm_root="C:\\Nestlab\\Labs")
    driver.remove_switch("sw-" + name, force=True)
    assert sim.state()["vms"] == []


def test_an_unreachable_ntlm_host_is_a_typed_error_not_a_crash_in_the_constructor(sim):
    with run_simulator() as other:
        port = other.port
    driver = ntlm_driver(sim, port=port, call_deadline_s=5)  # no network I/O until the first call
    with pytest.raises(HostUnreachable):
        driver.list_tagged_vms()


def test_the_driver_carries_on_over_ntlm_after_the_host_restarts():
    with run_simulator() as host:
        driver = ntlm_driver(host)
        driver.ensure_switch(SwitchSpec("sw", "private"))
        host.restart()  # the kept-alive, authenticated connection is gone: authenticate again
        driver.ensure_switch(SwitchSpec("sw", "private"))
        assert [switch["name"] for switch in host.state()["switches"]] == ["sw"]


def test_ntlm_over_https_needs_no_message_encryption():
    with run_simulator(tls=True) as host:
        session = winrm.Session(
            host.url, auth=(host.user, host.password), transport="ntlm", server_cert_validation="ignore"
        )
        assert session.run_ps("1+1").std_out == b"2\r\n"
        assert session.protocol.transport.encryption is None  # 'auto' does not encrypt over HTTPS
        driver = ntlm_driver(host, use_tls=True, verify_tls=False)
        assert driver.list_tagged_vms() == []
