import os
import subprocess
import sys
from pathlib import Path

import pytest

from config import env

ROOT = Path(__file__).resolve().parents[2]


def test_bool_rejects_a_value_it_cannot_read(monkeypatch):
    monkeypatch.setenv("DEBUG", "maybe")
    with pytest.raises(env.SettingError, match="DEBUG"):
        env.env_bool("DEBUG", False)


@pytest.mark.parametrize(("raw", "expected"), [("1", True), ("yes", True), ("Off", False), ("0", False)])
def test_bool_reads_the_usual_spellings(monkeypatch, raw, expected):
    monkeypatch.setenv("DEBUG", raw)
    assert env.env_bool("DEBUG", not expected) is expected


def test_secret_comes_from_a_file(monkeypatch, tmp_path):
    secret = tmp_path / "key"
    secret.write_text("s3cret-from-file\n")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setenv("SECRET_KEY_FILE", str(secret))
    assert env.env_secret("SECRET_KEY") == "s3cret-from-file"


def test_secret_refuses_both_the_value_and_the_file(monkeypatch, tmp_path):
    monkeypatch.setenv("SECRET_KEY", "a")
    monkeypatch.setenv("SECRET_KEY_FILE", str(tmp_path / "x"))
    with pytest.raises(env.SettingError, match="SECRET_KEY or SECRET_KEY_FILE"):
        env.env_secret("SECRET_KEY")


def test_int_names_the_variable_and_the_rule(monkeypatch):
    monkeypatch.setenv("CELERY_TASK_TIME_LIMIT", "5")
    with pytest.raises(env.SettingError, match=r"CELERY_TASK_TIME_LIMIT: must be at least 10"):
        env.env_int("CELERY_TASK_TIME_LIMIT", 900, minimum=10)


@pytest.mark.parametrize(
    ("raw", "rule"),
    [
        ("100", "must look like 100-3999"),
        ("a-b", "must look like"),
        ("0-10", "must be low-high with 1 <= low"),
        ("200-100", "must be low-high with 1 <= low <= high"),
    ],
)
def test_range_names_the_variable_and_the_rule(monkeypatch, raw, rule):
    monkeypatch.setenv("NESTLAB_VLAN_POOL", raw)
    with pytest.raises(env.SettingError, match=f"NESTLAB_VLAN_POOL: {rule}"):
        env.env_range("NESTLAB_VLAN_POOL", "100-3999", minimum=1, maximum=4094)


def test_range_includes_both_ends(monkeypatch):
    monkeypatch.setenv("NESTLAB_VLAN_POOL", "7-9")
    assert list(env.env_range("NESTLAB_VLAN_POOL", "100-3999", minimum=1, maximum=4094)) == [7, 8, 9]


@pytest.mark.parametrize("raw", ["10.192.0.1/12", "not-a-network", "fd00::/8", "10.0.0.0/33"])
def test_ipv4_network_names_the_variable(monkeypatch, raw):
    monkeypatch.setenv("NESTLAB_NAT_POOL", raw)
    with pytest.raises(env.SettingError, match="NESTLAB_NAT_POOL: must be an IPv4 network"):
        env.env_ipv4_network("NESTLAB_NAT_POOL", "10.192.0.0/12")


def _check(**environ):
    full = {**os.environ, **environ}
    return subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=full, capture_output=True, text=True)


@pytest.mark.parametrize(
    ("name", "raw", "rule"),
    [
        ("NESTLAB_VLAN_POOL", "100-5000", "NESTLAB_VLAN_POOL: must be low-high with 1 <= low <= high <= 4094"),
        ("NESTLAB_NAT_POOL", "10.192.0.0/99", "NESTLAB_NAT_POOL: must be an IPv4 network"),
        ("NESTLAB_NAT_POOL", "10.192.0.0/26", "NESTLAB_NAT_POOL: must hold at least one /24 prefix"),
    ],
)
def test_a_bad_network_pool_stops_start_up_naming_the_variable(name, raw, rule):
    done = _check(**{name: raw})
    assert done.returncode != 0
    assert rule in done.stderr
