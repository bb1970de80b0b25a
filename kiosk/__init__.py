"""The Flask application: kiosk, office, SLT and API blueprints over the register."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from kiosk import config, headers
from kiosk.extensions import csrf, db
from register.db import configure_engine

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app. Opens no database connection: gunicorn may fork after this."""
    app = Flask(__name__, instance_relative_config=True, template_folder=str(TEMPLATES))
    # The environment, then a test's settings; refuses to start if production lacks a setting.
    app.config.from_mapping(config.load(app.instance_path, test_config))
    if proxies := int(app.config["TRUSTED_PROXIES"]):
        # The client's address (sign-in throttling) and scheme (HSTS, secure redirects) as
        # the trusted proxies saw them; X-Forwarded-Host stays unread (TRUSTED_HOSTS decides).
        proxied = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)
        app.wsgi_app = proxied  # type: ignore[method-assign]
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    engine_options = app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {})
    # A statement's values (IMEIs, names, token hashes) never reach a log line: not with SQL
    # logging on, nor in the message of a database error that gunicorn logs with its traceback.
    engine_options.setdefault("hide_parameters", True)
    if not str(app.config["SQLALCHEMY_DATABASE_URI"]).startswith("sqlite"):
        # A database server may restart under us; a SQLite file cannot go away like that, and
        # the ping would cost every unit of work a statement.
        engine_options.setdefault("pool_pre_ping", True)

    db.init_app(app)
    csrf.init_app(app)
    with app.app_context():
        configure_engine(db.engine)
    from kiosk import errors  # before the blueprints: their <int:> rules take its converter
    errors.init_app(app)

    from kiosk import (
        admin,
        api,
        auth,
        cli,
        kiosk_views,
        office,
        printing,
        requests,
        simulator,
        slt,
    )

    for module in (auth, kiosk_views, office, printing, slt, requests, admin, api):
        app.register_blueprint(module.bp)
    app.register_blueprint(simulator.bp)  # demo only: answers 404 in production
    from kiosk import reports  # roll call, daily log, compliance summaries
    app.register_blueprint(reports.bp)
    from kiosk import slt_report
    app.register_blueprint(slt_report.bp)
    from kiosk import policy_views  # the phone policy: versions, printing, acknowledgements
    app.register_blueprint(policy_views.bp)
    from kiosk import privacy  # the privacy notice: open to everyone, the kiosk included
    app.register_blueprint(privacy.bp)
    cli.init_app(app)
    from kiosk import accounts, audit_views, kiosks_admin  # each adds its pages and commands
    for module in (accounts, kiosks_admin, audit_views):
        module.init_app(app)
    from kiosk import retention_admin  # flask --app kiosk purge
    retention_admin.init_app(app)
    from kiosk import data_subject  # subject access and erasure, for admins (issue 11)
    data_subject.init_app(app)
    from kiosk import backup_cli  # flask --app kiosk backup / restore (issue 12)
    backup_cli.init_app(app)
    from kiosk import status_views  # is everything working? (issue 12)
    status_views.init_app(app)
    from kiosk import incidents  # the policy's incident log (issue 13)
    app.register_blueprint(incidents.bp)
    from kiosk import evidence  # the evidence pack for an inspector (issue 13)
    app.register_blueprint(evidence.bp)
    _template_helpers(app)
    headers.init_app(app)
    return app


def _template_helpers(app: Flask) -> None:
    zone = ZoneInfo(str(app.config["TIME_ZONE"]))

    def local(value: datetime | None, fmt: str = "%a %d %b %Y, %H:%M") -> str:
        return "" if value is None else value.astimezone(zone).strftime(fmt)

    app.jinja_env.filters["local"] = local
    app.extensions["school_zone"] = zone

    @app.context_processor
    def school() -> dict[str, Any]:
        return {"school_name": app.config["SCHOOL_NAME"]}

