"""NAT mode against hvsim (issue 13, item 1): one NetNat per host over the whole pool, each
tenant's Internal switch with its gateway in its own segment, and no addresses made up for guests
("WinNAT by itself does not allocate and assign IP addresses", hyperv-real-host.md [S5])."""

from __future__ import annotations

import ipaddress
import time

import pytest

from tests.hyperv.test_driver_integration import ROOT, connect, vm_spec
from workers.hyperv.errors import HypervisorError, InvalidValue
from workers.hyperv.interface import HOST_NAT_NAME, SwitchSpec
from workers.hyperv.simulator.testing import run_simulator

pytestmark = pytest.mark.integration
POOL = "10.192.0.0/12"


@pytest.fixture
def sim():
    with run_simulator(cpus=16, memory_mb=65536) as handle:
        yield handle


def gateways(state) -> dict[str, tuple[str, int]]:
    return {
        a["interface_alias"]: (a["ip_address"], a["prefix_length"])
        for a in state["host_ip_addresses"]
        if a["interface_alias"].startswith("vEthernet (nestlab-")
    }


def test_every_tenants_nat_switch_shares_the_hosts_one_netnat_over_the_pool(sim):
    driver = connect(sim)
    segments = {"acme": "10.192.0.0/24", "globex": "10.192.1.0/24", "initech": "10.200.7.0/24"}
    for slug, prefix in segments.items():
        spec = SwitchSpec(f"nestlab-{slug}-nat", "nat", nat_prefix=prefix, nat_pool=POOL)
        driver.ensure_switch(spec)
        driver.ensure_switch(spec)  # idempotent
    state = sim.state()
    assert [(nat["name"], nat["internal_prefix"]) for nat in state["nats"]] == [(HOST_NAT_NAME, POOL)]
    assert gateways(state) == {
        f"vEthernet (nestlab-{slug}-nat)": (str(ipaddress.ip_network(prefix)[1]), 24)
        for slug, prefix in segments.items()
    }
    driver.remove_switch("nestlab-acme-nat")
    assert [nat["name"] for nat in sim.state()["nats"]] == [HOST_NAT_NAME]  # a lab never removes it


def test_hvsim_refuses_a_second_netnat_as_windows_supports_one_per_host(sim):
    driver = connect(sim)
    driver.client.run_script("New-NetNat -Name first -InternalIPInterfaceAddressPrefix 172.16.0.0/24 | Out-Null")
    with pytest.raises(HypervisorError, match="The parameter is incorrect"):
        driver.client.run_script("New-NetNat -Name second -InternalIPInterfaceAddressPrefix 172.17.0.0/24")
    assert [nat["name"] for nat in sim.state()["nats"]] == ["first"]


def test_a_host_with_a_foreign_netnat_is_refused_clearly_and_left_unchanged(sim):
    driver = connect(sim)
    driver.client.run_script("New-NetNat -Name docker -InternalIPInterfaceAddressPrefix 172.16.0.0/24 | Out-Null")
    before = sim.state()
    with pytest.raises(HypervisorError, match="already has the NAT network docker.*one per host"):
        driver.ensure_switch(SwitchSpec("nestlab-acme-nat", "nat", nat_prefix="10.192.0.0/24", nat_pool=POOL))
    after = sim.state()
    assert (after["switches"], after["nats"], after["host_ip_addresses"]) == (
        before["switches"],
        before["nats"],
        before["host_ip_addresses"],
    )


def test_a_guest_on_a_nat_switch_gets_no_address_from_winnat(sim):
    driver = connect(sim)
    # The NetNat covering exactly this segment, the most a guest could hope to get an address from.
    segment = "10.192.0.0/24"
    driver.ensure_switch(SwitchSpec("nestlab-acme-nat", "nat", nat_prefix=segment, nat_pool=segment))
    driver.ensure_vm(vm_spec("nat-guest", switch="nestlab-acme-nat"))
    driver.start_vm("nat-guest")
    deadline = time.monotonic() + 10
    while not (status := driver.vm_status("nat-guest")).ip_addresses and time.monotonic() < deadline:
        time.sleep(0.2)
    ipv4 = [ip for ip in status.ip_addresses if "." in ip]
    assert ipv4 and all(ipaddress.ip_address(ip).is_link_local for ip in ipv4), status.ip_addresses
    driver.delete_vm("nat-guest", vm_root=ROOT)


def test_a_nat_labs_port_denies_the_pool_and_allows_only_its_own_segment(sim):
    driver = connect(sim)
    driver.ensure_switch(SwitchSpec("nestlab-acme-nat", "nat", nat_prefix="10.192.3.0/24", nat_pool=POOL))
    spec = vm_spec("nat-isolated", switch="nestlab-acme-nat", nat_segment="10.192.3.0/24", nat_pool=POOL)
    driver.ensure_vm(spec)
    driver.ensure_vm(spec)
    [vm] = [vm for vm in sim.state()["vms"] if vm["name"] == "nat-isolated"]
    [adapter] = vm["adapters"]
    rules = sorted((acl["action"], acl["direction"], acl["remote_address"]) for acl in adapter["acls"])
    assert rules == [
        ("Allow", "Inbound", "10.192.3.0/24"),
        ("Allow", "Outbound", "10.192.3.0/24"),
        ("Deny", "Inbound", POOL),
        ("Deny", "Outbound", POOL),
    ]
    with pytest.raises(InvalidValue, match="not inside the NAT pool"):
        vm_spec("nat-elsewhere", switch="nestlab-acme-nat", nat_segment="192.168.0.0/24", nat_pool=POOL)
