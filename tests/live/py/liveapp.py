"""Celery app for celery-doctor's live integration tests.

Configured entirely from environment variables, so every test can point its
workers, publishers and ``celery`` CLI calls at its own isolated broker scope
(a Redis key prefix or a RabbitMQ vhost):

``CDT_BROKER``
    Broker URL (default ``redis://127.0.0.1:6379/0``).
``CDT_PREFIX``
    Redis transport option ``global_keyprefix``; empty or unset means none.
    kombu puts it verbatim in front of every key and pub/sub channel.
``CDT_SERIALIZER``
    ``task_serializer`` (default ``json``). Workers also reply to remote
    control in this serializer.
``CDT_ACCEPT``
    Comma list for ``accept_content`` and ``result_accept_content``
    (default ``json,msgpack,yaml``). Pickle is left out on purpose: it is not
    needed to *publish* pickle messages, and a worker running as root refuses
    to start with pickle accepted unless ``C_FORCE_ROOT`` is set (the test
    harness sets it, so tests may opt in with ``CDT_ACCEPT=json,pickle``).
``CDT_BACKEND``
    Result backend URL; empty or unset means no result backend (the default).
    A Redis backend gets the same ``global_keyprefix`` as the broker.
``CDT_MAX_PRIORITY``
    ``task_queue_max_priority`` (RabbitMQ ``x-max-priority`` on queues that
    Celery declares), so publishers and workers declare queues alike.
``CDT_CONF``
    JSON object of extra settings applied last, e.g.
    ``{"task_acks_late": true, "broker_transport_options": {"visibility_timeout": 5}}``.
    ``broker_transport_options`` is merged with the prefix, not replaced.
``CDT_PARENT_PID``
    When set, a worker exits at once when its parent process is no longer that
    pid, so a test process killed by a timeout or Ctrl-C does not leak workers.

Tasks: ``liveapp.add``, ``liveapp.slow``, ``liveapp.send_email`` (routed to
queue ``emails``), ``liveapp.fail`` and ``billing.tasks.charge``.
"""

import json
import os
import threading
import time

from celery import Celery, signals


def _env(name, default=""):
    value = os.environ.get(name, "")
    return value if value.strip() else default


BROKER = _env("CDT_BROKER", "redis://127.0.0.1:6379/0")
PREFIX = os.environ.get("CDT_PREFIX", "")
SERIALIZER = _env("CDT_SERIALIZER", "json")
ACCEPT = [s.strip() for s in _env("CDT_ACCEPT", "json,msgpack,yaml").split(",") if s.strip()]
BACKEND = _env("CDT_BACKEND") or None
EXTRA_CONF = json.loads(_env("CDT_CONF", "{}"))

app = Celery("liveapp", broker=BROKER, backend=BACKEND, set_as_current=True)

transport_options = {}
if PREFIX:
    transport_options["global_keyprefix"] = PREFIX
transport_options.update(EXTRA_CONF.pop("broker_transport_options", {}))

app.conf.update(
    broker_transport_options=transport_options,
    broker_connection_retry_on_startup=True,
    task_serializer=SERIALIZER,
    result_serializer=SERIALIZER,
    accept_content=ACCEPT,
    result_accept_content=ACCEPT,
    task_routes={"liveapp.send_email": {"queue": "emails"}},
    worker_hijack_root_logger=False,
    # print() in tasks goes straight to the worker's log file, not through logging.
    worker_redirect_stdouts=False,
)
if BACKEND and BACKEND.startswith(("redis://", "rediss://")) and PREFIX:
    app.conf.result_backend_transport_options = {"global_keyprefix": PREFIX}
if _env("CDT_MAX_PRIORITY"):
    app.conf.task_queue_max_priority = int(_env("CDT_MAX_PRIORITY"))
app.conf.update(EXTRA_CONF)


@app.task(name="liveapp.add")
def add(x, y):
    return x + y


@app.task(name="liveapp.slow")
def slow(seconds=1.0):
    time.sleep(float(seconds))
    return seconds


@app.task(name="liveapp.send_email")
def send_email(to, subject=None):
    return {"to": to, "subject": subject}


@app.task(name="liveapp.fail")
def fail():
    raise ValueError("boom")


@app.task(name="billing.tasks.charge")
def charge(amount, currency="EUR"):
    return {"amount": amount, "currency": currency}


def _watch_parent(parent_pid):
    """Exit at once, like a crash, when the test process that started this worker is gone.

    No warm shutdown: it would write to the broker (requeue, unbind) while the next test
    process may already be deleting the dead test's scope.
    """
    while os.getppid() == parent_pid:
        time.sleep(0.2)
    os._exit(70)


@signals.worker_init.connect
def _start_parent_watchdog(**_):
    parent = _env("CDT_PARENT_PID")
    if parent:
        threading.Thread(
            target=_watch_parent, args=(int(parent),), name="cdt-watchdog", daemon=True
        ).start()
