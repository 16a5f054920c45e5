"""Polling benchmark: N json monitors at one interval, held by one real Celery worker.

    python -m bench.polling --monitors 2000 --interval 60 --duration 180

Goal (issue): 2,000 monitors at 60 s held by one worker, dispatch lag p95 < 5 s.

What it does, bounded in time (it stops by itself):

1. creates and migrates a dedicated database (``helpdesk_bench_polling`` on the
   PostgreSQL of ``BENCH_POLLING_DATABASE_URL``) and empties its monitoring
   tables (``--fresh`` drops and recreates it);
2. starts a local HTTP JSON source in a process of its own (a threaded
   ``http.server`` on 127.0.0.1, port 0) that answers ``{"value": ...}`` and logs
   the arrival time of every request;
3. creates one application, one json source on that server and N monitors on
   it through ``monitoring.services.config`` (static thresholds the value never
   reaches: no alert, no incident);
4. starts a real ``celery worker`` (one worker; prefork pool, concurrency 2 by
   default) and a real ``celery beat`` (``HELPDESK_POLL_DISPATCH_SECONDS=1``) as
   subprocesses, with the production settings (``HELPDESK_ENV=production``: no
   DEBUG, persistent database connections), on the bench database and a Redis
   database of their own (``BENCH_POLLING_BROKER_URL``, default db 11);
5. once both are up, puts every monitor on its own slot of the grid from a
   common start instant T (as a deployment that has been running for a while),
   measures for ``--duration`` seconds, waits for the last slots to be stored,
   stops beat and the worker.

Measured from the database, with two row triggers this benchmark adds to its
own database only (the models are untouched): every INSERT into
``monitoring_sample`` logs (monitor, scheduled instant, clock_timestamp()) and
every change of ``monitoring_monitor.next_poll_at`` logs (monitor, slot it
left, clock_timestamp()). Hence per slot:

* *poll lag*: sample stored - scheduled slot (dispatch + queue + HTTP + evaluation),
* *dispatch lag*: the dispatcher claimed the monitor - scheduled slot,

plus missed slots (a slot of the window with no sample), coverage (every monitor
polled within interval + 5 s all through the window), polls per second, and CPU
seconds of the worker (main process and pool children), beat, the PostgreSQL
backends of the bench database and the HTTP source, read from ``/proc/<pid>/stat``
at T and T + duration (sampled every second in between for processes that come
and go). Writes the section ``## Monitoring polling`` of ``docs/PERFORMANCE.md``
(``--no-doc`` to skip). Exit status 1 when p95 >= 5 s or a slot is missed.
"""
