"""Test support shared by the tests of every app and by ``bench/``.

One copy of each piece that tests and benchmarks need around the code under test:

- ``waiting``: wait until a condition holds (polling with a deadline);
- ``network``: a free port, a small threaded HTTP server on 127.0.0.1;
- ``threads``: start threads together at a barrier (the concurrency tests);
- ``processes``: start a process in its own group, stop it, kill it by pid;
- ``workers``: real Celery workers and beat on the test database;
- ``brokers``: point this process's Celery app at a broker, a redis-server of a test's own;
- ``mail``: what Django's file e-mail backend wrote;
- ``dovecot``: a throw-away Dovecot IMAP server (plaintext, STARTTLS, imaps with a test CA);
- ``smtp``: a real SMTP receiver (aiosmtpd in a process of its own) writing what it gets to files.

Nothing here imports ``tickets``, ``monitoring`` or ``escalation``; app-specific
helpers (factories, a webhook receiver, a JSON source) stay in each app's ``tests/``.
"""
