import pytest

from config import env


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
