"""deploy/nestlab.env.example, read the way systemd's EnvironmentFile= reads it, starts the settings."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "deploy" / "nestlab.env.example"


def systemd_environment_file(text: str) -> dict[str, str]:
    """Parse an EnvironmentFile= as systemd does (systemd.exec(5)): lines starting with '#' or ';'
    are comments, a trailing backslash continues a line, ``KEY=VALUE`` with whitespace around the
    key and before the value dropped, single or double quotes around the value removed (backslash
    escapes inside double quotes), and no inline comments: a '#' after the value belongs to it."""
    result: dict[str, str] = {}
    lines = iter(text.splitlines())
    for line in lines:
        while line.endswith("\\"):
            line = line[:-1] + next(lines, "")
        stripped = line.strip()
        if not stripped or stripped[0] in "#;":
            continue
        key, sep, value = stripped.partition("=")
        if not sep:
            raise ValueError(f"not KEY=VALUE: {line!r}")
        value = value.lstrip()
        if value[:1] in ("'", '"'):
            quote, out, index = value[0], [], 1
            while index < len(value) and value[index] != quote:
                if quote == '"' and value[index] == "\\" and index + 1 < len(value):
                    index += 1
                out.append(value[index])
                index += 1
            value = "".join(out)
        else:
            value = value.rstrip()
        result[key.strip()] = value
    return result


def test_the_parser_keeps_what_systemd_keeps():
    text = '# c\n; c\nA=1   # not a comment\n B = \'x y\' \nC="a \\"b\\""\nD=one \\\ntwo\n'
    assert systemd_environment_file(text) == {"A": "1   # not a comment", "B": "x y", "C": 'a "b"', "D": "one two"}


def test_the_example_environment_file_starts_the_settings(tmp_path):
    variables = systemd_environment_file(EXAMPLE.read_text(encoding="utf-8"))
    # The example names files under /etc/nestlab; put real ones in their place, keeping each value
    # otherwise exactly as systemd would pass it.
    (tmp_path / "secret_key").write_text("k" * 50 + "\n")
    (tmp_path / "encryption_keys").write_text(Fernet.generate_key().decode() + "\n")
    env = {name: value.replace("/etc/nestlab/", f"{tmp_path}/") for name, value in variables.items()}
    env.update(PATH="/usr/bin:/bin", DJANGO_SETTINGS_MODULE="config.settings", NESTLAB_VAR_DIR=str(tmp_path / "var"))
    probe = (
        "import json, django; django.setup(); from django.conf import settings as s; "
        "print(json.dumps([s.DEBUG, s.ALLOWED_HOSTS, s.SECURE_PROXY_SSL_HEADER, s.SECURE_HSTS_PRELOAD, "
        "s.CELERY_BROKER_TRANSPORT_OPTIONS['visibility_timeout'], len(s.NESTLAB_ENCRYPTION_KEYS), "
        "s.DATABASES['default']['HOST']]))"
    )
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == [
        False,
        ["nestlab.example.com"],
        ["HTTP_X_FORWARDED_PROTO", "https"],
        True,
        3600,
        1,
        "db.example.com",
    ]


@pytest.mark.parametrize("line", ["NESTLAB_BEHIND_PROXY=1   # a comment"])
def test_an_inline_comment_reaches_the_settings_reader_and_is_refused(monkeypatch, line):
    from config import env

    name, value = next(iter(systemd_environment_file(line).items()))
    monkeypatch.setenv(name, value)
    with pytest.raises(env.SettingError, match=name):
        env.env_bool(name, False)
