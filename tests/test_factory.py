import secrets

import pytest

from kiosk import create_app
from kiosk.config import DEMO_SECRET_KEY, ConfigError, database_url
from kiosk.extensions import db
from register.models import User

SETTINGS = ("DATABASE_URL", "SECRET_KEY", "SCHOOL_NAME", "KIOSK_ENV", "TIME_ZONE",
            "TRUSTED_HOSTS", "PUBLIC_URL", "SMTP_HOST")
GOOD_KEY = secrets.token_hex(32)  # not in a test's id: xdist workers must collect alike


@pytest.fixture
def nothing_set(monkeypatch):
    """An environment with none of the product's settings, as on a new server."""
    for name in SETTINGS:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_testing_config_is_applied(app):
    assert app.testing
    assert app.config["SCHOOL_NAME"] == "Test Primary School"
    assert app.config["PRODUCTION"] is False  # conftest asks for the demo


def test_defaults_use_sqlite_under_instance_and_london_time(nothing_set):
    app = create_app({"TESTING": True, "KIOSK_ENV": "demo"})
    assert app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///")
    assert app.config["SQLALCHEMY_DATABASE_URI"].endswith("instance/kiosk.sqlite3")
    assert app.config["TIME_ZONE"] == "Europe/London"


def test_environment_configures_the_school(nothing_set):
    nothing_set.setenv("KIOSK_ENV", "demo")
    nothing_set.setenv("SCHOOL_NAME", "St Ives Academy")
    nothing_set.setenv("DATABASE_URL", "postgres://kiosk@db.example/trust")
    app = create_app({"TESTING": True})
    assert app.config["SCHOOL_NAME"] == "St Ives Academy"
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://kiosk@db.example/trust"


def test_with_nothing_set_it_is_production_and_refuses_to_start(nothing_set):
    with pytest.raises(ConfigError) as refused:
        create_app()
    assert "SECRET_KEY is not set" in str(refused.value)
    assert "secrets.token_hex(32)" in str(refused.value)
    assert "PUBLIC_URL" in str(refused.value)  # every missing setting is named at once


def test_production_starts_with_a_key_and_the_public_address(nothing_set):
    nothing_set.setenv("SECRET_KEY", GOOD_KEY)
    nothing_set.setenv("PUBLIC_URL", "https://phones.school.example/")
    app = create_app()
    assert app.config["PRODUCTION"] is True
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["TRUSTED_HOSTS"] == ["phones.school.example", "localhost", "127.0.0.1"]


def test_demo_only_when_asked(nothing_set):
    nothing_set.setenv("KIOSK_ENV", "demo")
    app = create_app()
    assert app.config["PRODUCTION"] is False
    assert app.config["SECRET_KEY"] == DEMO_SECRET_KEY
    assert app.config["TRUSTED_HOSTS"] == ["localhost", "127.0.0.1"]


@pytest.mark.parametrize("word", ["Production", "prod", "PRODUCTION", "demo ", "development"])
def test_an_unknown_kiosk_env_is_an_error(nothing_set, word):
    nothing_set.setenv("KIOSK_ENV", word)
    nothing_set.setenv("SECRET_KEY", GOOD_KEY)
    with pytest.raises(ConfigError, match=r"KIOSK_ENV=production .* or KIOSK_ENV=demo"):
        create_app()


def test_production_refuses_the_demo_secret_key(nothing_set):
    nothing_set.setenv("KIOSK_ENV", "production")
    nothing_set.setenv("PUBLIC_URL", "https://phones.school.example")
    with pytest.raises(ConfigError, match="SECRET_KEY is not set"):
        create_app()
    nothing_set.setenv("SECRET_KEY", DEMO_SECRET_KEY)
    with pytest.raises(ConfigError, match="refusing to start with the demo key"):
        create_app()
    nothing_set.setenv("SECRET_KEY", GOOD_KEY)
    assert create_app().config["SESSION_COOKIE_SECURE"] is True


@pytest.mark.parametrize("key", [
    "x",  # the one-character key of the security test
    "test-secret",
    "5f0c2a9e81d4b7364e0f9a1c2b8d7e63",  # 32 hex characters are only 16 bytes
    "a" * 64,  # long, but a pattern
    "Password1" * 4,  # 36 bytes, but only 8 different characters
])
def test_production_refuses_a_weak_key(nothing_set, key):
    nothing_set.setenv("PUBLIC_URL", "https://phones.school.example")
    nothing_set.setenv("SECRET_KEY", key)
    with pytest.raises(ConfigError, match="at least 32 random bytes"):
        create_app()


@pytest.mark.parametrize("key", [
    "3b9f0e6c1d2a48f7b5e0c9d8a7f6e5d4c3b2a1908f7e6d5c4b3a29180f7e6d5c",  # token_hex(32)
    "Xq3v9LrT0bYk2WnPz7Hs5JdCm8GfA1uE4oKiRtYw6Zc",  # token_urlsafe(32)
    "a-real-secret-from-the-deployment"])
def test_production_accepts_32_bytes_of_key(nothing_set, key):
    nothing_set.setenv("PUBLIC_URL", "https://phones.school.example")
    nothing_set.setenv("SECRET_KEY", key)
    assert create_app().config["SECRET_KEY"] == key


def test_production_needs_to_know_its_host_name(nothing_set):
    nothing_set.setenv("SECRET_KEY", GOOD_KEY)
    with pytest.raises(ConfigError, match="Production needs the name staff use"):
        create_app()
    nothing_set.setenv("TRUSTED_HOSTS", "phones.school.example, 10.0.0.5 ,")
    assert create_app().config["TRUSTED_HOSTS"] == [
        "phones.school.example", "10.0.0.5", "localhost", "127.0.0.1"]


@pytest.mark.parametrize("hosts", ["https://phones.school.example", "phones:8000", "*"])
def test_trusted_hosts_must_be_names(nothing_set, hosts):
    nothing_set.setenv("SECRET_KEY", GOOD_KEY)
    nothing_set.setenv("TRUSTED_HOSTS", hosts)
    with pytest.raises(ConfigError, match="TRUSTED_HOSTS has"):
        create_app()


def test_public_url_must_be_an_address(nothing_set):
    nothing_set.setenv("SECRET_KEY", GOOD_KEY)
    nothing_set.setenv("PUBLIC_URL", "phones.school.example")
    with pytest.raises(ConfigError, match=r"PUBLIC_URL=phones\.school\.example is not an address"):
        create_app()


def test_email_is_not_configured_without_public_url(nothing_set):
    nothing_set.setenv("KIOSK_ENV", "demo")
    nothing_set.setenv("SMTP_HOST", "mail.school.example")
    with pytest.raises(ConfigError, match="SMTP_HOST is set but PUBLIC_URL is not"):
        create_app()
    nothing_set.setenv("PUBLIC_URL", "http://localhost:8000")
    assert create_app().config["PUBLIC_URL"] == "http://localhost:8000"


def test_a_foreign_host_header_is_refused(app_config):
    app = create_app({**app_config, "KIOSK_ENV": "production", "SECRET_KEY": GOOD_KEY,
                      "PUBLIC_URL": "https://phones.school.example"})
    client = app.test_client()
    assert client.get("/login", headers={"Host": "evil.example"}).status_code == 400
    assert client.get("/login", base_url="https://phones.school.example").status_code == 200
    assert client.get("/login", headers={"Host": "127.0.0.1:8000"}).status_code == 200


def test_the_demo_answers_only_to_loopback_names(client):
    assert client.get("/login", headers={"Host": "192.168.1.20:8000"}).status_code == 400
    assert client.get("/login", headers={"Host": "localhost:8000"}).status_code == 200


def test_seed_demo_is_refused_in_production(app, runner):
    app.config["PRODUCTION"] = True
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 1
    assert "seed-demo is refused in production" in result.output
    assert "demo-password" not in result.output
    with app.app_context():
        assert db.session.scalars(db.select(User)).all() == []


def test_database_url_keeps_other_schemes():
    assert database_url("sqlite:////var/lib/kiosk.db") == "sqlite:////var/lib/kiosk.db"


def test_creating_the_app_opens_no_database_connection(tmp_path):
    """gunicorn forks workers after importing the app: no connection may exist before that."""
    path = tmp_path / "never-opened.sqlite3"
    create_app({"TESTING": True, "KIOSK_ENV": "demo",
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}"})
    assert not path.exists()
