import pytest

from kiosk import create_app
from kiosk.config import DEMO_SECRET_KEY, ConfigError, database_url


def test_testing_config_is_applied(app):
    assert app.testing
    assert app.config["SCHOOL_NAME"] == "Test Primary School"


def test_defaults_use_sqlite_under_instance_and_london_time(monkeypatch, tmp_path):
    for name in ("DATABASE_URL", "SECRET_KEY", "SCHOOL_NAME", "KIOSK_ENV", "TIME_ZONE"):
        monkeypatch.delenv(name, raising=False)
    app = create_app({"TESTING": True})
    assert app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///")
    assert app.config["SQLALCHEMY_DATABASE_URI"].endswith("instance/kiosk.sqlite3")
    assert app.config["TIME_ZONE"] == "Europe/London"


def test_environment_configures_the_school(monkeypatch):
    monkeypatch.setenv("SCHOOL_NAME", "St Ives Academy")
    monkeypatch.setenv("DATABASE_URL", "postgres://kiosk@db.example/trust")
    app = create_app({"TESTING": True})
    assert app.config["SCHOOL_NAME"] == "St Ives Academy"
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://kiosk@db.example/trust"


def test_production_refuses_the_demo_secret_key(monkeypatch):
    monkeypatch.setenv("KIOSK_ENV", "production")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(ConfigError, match="refusing to start with the demo key"):
        create_app()
    monkeypatch.setenv("SECRET_KEY", DEMO_SECRET_KEY)
    with pytest.raises(ConfigError):
        create_app()
    monkeypatch.setenv("SECRET_KEY", "a-real-secret-from-the-deployment")
    assert create_app().config["SESSION_COOKIE_SECURE"] is True


def test_database_url_keeps_other_schemes():
    assert database_url("sqlite:////var/lib/kiosk.db") == "sqlite:////var/lib/kiosk.db"


def test_creating_the_app_opens_no_database_connection(tmp_path):
    """gunicorn forks workers after importing the app: no connection may exist before that."""
    path = tmp_path / "never-opened.sqlite3"
    create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}"})
    assert not path.exists()
