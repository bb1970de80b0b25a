"""gunicorn's settings for the phone register. gunicorn reads this file by itself when started
from this folder (as ``make run`` does); a school's service can name it:
``gunicorn -c /srv/phone-register/gunicorn.conf.py 'kiosk:create_app()'``.

The access log, wherever it goes, leaves out the query string (``%(U)s`` is the path alone,
where gunicorn's default ``%(r)s`` is the whole request line) and the Referer (``%(f)s``, a
page's address with its own query string): nothing after a ``?`` reaches a log line, so no
IMEI, kiosk token or pairing code can. The register's own URLs name records by id only.
"""

access_log_format = '%(h)s - %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(L)ss "%(a)s"'
