"""The IMEI register and locker domain: plain Python and SQLAlchemy, no web framework."""
