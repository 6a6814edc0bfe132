#!/usr/bin/env python3
"""Generate a deterministic, Celery-heavy Python source tree for benchmarks.

The tree looks like a large Django + Celery monolith: a project package with a
Celery app and settings modules, and many Django apps, each with task modules
(``@shared_task`` / ``@app.task`` with assorted options), services and views
that enqueue tasks from other modules (``.delay`` / ``.apply_async`` /
signatures / canvas), ``transaction.atomic`` blocks (some enqueueing inside
them, some using ``transaction.on_commit``), ``requests`` calls with and
without timeouts, retries, and plain helper code.

The code is never imported or run; it only has to be valid, realistic Python.
The output is a pure function of the arguments (seeded ``random.Random``, no
clock, no hash randomisation), so every run produces byte-identical files.

Usage: python3 scripts/gen_corpus.py --out DIR [--apps 40] [--seed 20240601] [--force]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
from dataclasses import dataclass, field

NOUNS = [
    "order", "invoice", "payment", "customer", "shipment", "report", "export",
    "asset", "email", "sms", "webhook", "thumbnail", "document", "ledger",
    "subscription", "refund", "coupon", "inventory", "warehouse", "catalog",
    "search_index", "audit_log", "notification", "session", "upload", "feed",
    "translation", "metric", "backup", "cache", "tenant", "contract", "ticket",
]
VERBS = [
    "process", "send", "sync", "rebuild", "cleanup", "generate", "refresh",
    "recalculate", "archive", "notify", "validate", "import", "export",
    "reconcile", "publish", "expire", "charge", "render", "index", "compact",
]
QUEUES = ["default", "emails", "reports", "billing", "io", "cpu", "low", "high"]
EXC = ["ConnectionError", "TimeoutError", "OSError", "requests.RequestException"]
HOSTS = ["api.payments.example", "hooks.partner.example", "cdn.example", "crm.example"]


@dataclass
class Task:
    module: str  # dotted module path
    name: str  # function name
    bound: bool
    nargs: int


@dataclass
class Ctx:
    rng: random.Random
    tasks: list[Task] = field(default_factory=list)

    def pick(self, seq):
        return seq[self.rng.randrange(len(seq))]


def ident(ctx: Ctx) -> str:
    return f"{ctx.pick(VERBS)}_{ctx.pick(NOUNS)}"


def call_args(ctx: Ctx, n: int, names=("42", "'x'", "None")) -> str:
    return ", ".join(ctx.pick(names) for _ in range(n))


def task_call_args(ctx: Ctx, t: Task, n: int) -> str:
    """Arguments for a call made inside task ``t``: its own parameters or literals."""
    names = tuple(f"arg{i}" for i in range(t.nargs)) + ("42", "'x'")
    return call_args(ctx, n, names)


def task_decorator(ctx: Ctx, use_app: bool, bound: bool, full_name: str) -> str:
    opts = []
    if bound:
        opts.append("bind=True")
    r = ctx.rng.random
    if r() < 0.35:
        opts.append(f"max_retries={ctx.rng.randint(1, 10)}")
    if r() < 0.25:
        opts.append(f"default_retry_delay={ctx.pick([5, 30, 60, 300])}")
    if r() < 0.3:
        opts.append(f"queue={ctx.pick(QUEUES)!r}")
    if r() < 0.25:
        opts.append("acks_late=True")
    if r() < 0.15:
        opts.append("ignore_result=True")
    if r() < 0.2:
        opts.append(f"autoretry_for=({ctx.pick(EXC)},)")
        if r() < 0.6:
            opts.append("retry_backoff=True")
        if r() < 0.4:
            opts.append("retry_jitter=True")
    if r() < 0.2:
        opts.append(f"soft_time_limit={ctx.rng.randint(10, 600)}")
    if r() < 0.15:
        opts.append(f"time_limit={ctx.rng.randint(30, 1200)}")
    if r() < 0.1:
        opts.append(f"rate_limit={ctx.pick(['10/m', '100/s', '1/h'])!r}")
    if r() < 0.2:
        opts.append(f"name={full_name!r}")
    base = "app.task" if use_app else "shared_task"
    if not opts and r() < 0.5:
        return f"@{base}"
    return f"@{base}({', '.join(opts)})"


def gen_task_body(ctx: Ctx, t: Task, callable_tasks: list[Task]) -> list[str]:
    rng = ctx.rng
    lines = []
    params = ["self"] if t.bound else []
    params += [f"arg{i}" for i in range(t.nargs)]
    lines.append(f"def {t.name}({', '.join(params)}):")
    lines.append(f'    """{t.name.replace("_", " ").capitalize()}."""')
    lines.append(f"    logger.info('running {t.name} with %s', {t.nargs})")
    kind = rng.random()
    if kind < 0.2:
        lines += [
            "    try:",
            f"        resp = requests.{ctx.pick(['get', 'post'])}("
            f"'https://{ctx.pick(HOSTS)}/v1/{ctx.pick(NOUNS)}'"
            + (", timeout=10" if rng.random() < 0.5 else "")
            + ")",
            "        resp.raise_for_status()",
            "    except requests.RequestException as exc:",
        ]
        if t.bound:
            lines.append("        raise self.retry(exc=exc, countdown=60)")
        else:
            lines.append("        logger.warning('request failed: %s', exc)")
            lines.append("        return None")
        lines.append("    return resp.json()")
    elif kind < 0.35:
        lines += [
            "    with transaction.atomic():",
            f"        obj = {ctx.pick(['Order', 'Invoice', 'Customer', 'Report'])}.objects.select_for_update().get(pk=arg0)"
            if t.nargs
            else "        obj = Record.objects.select_for_update().first()",
            "        obj.status = 'done'",
            "        obj.save(update_fields=['status'])",
        ]
        if callable_tasks and rng.random() < 0.6:
            other = ctx.pick(callable_tasks)
            lines.append(f"        {other.name}.delay({task_call_args(ctx, t, other.nargs)})")
        lines.append("    return obj.pk")
    elif kind < 0.45 and callable_tasks:
        other = ctx.pick(callable_tasks)
        lines += [
            f"    res = {other.name}.delay({task_call_args(ctx, t, other.nargs)})",
            "    value = res.get(timeout=30)" if rng.random() < 0.5 else "    value = res.id",
            "    return value",
        ]
    elif kind < 0.55:
        lines += [
            "    total = 0",
            "    for i in range(100):",
            "        total += i * i",
            "        if total > 10_000:",
            "            time.sleep(0.1)" if rng.random() < 0.4 else "            break",
            "    return total",
        ]
    elif kind < 0.7 and callable_tasks:
        a, b = ctx.pick(callable_tasks), ctx.pick(callable_tasks)
        canvas = ctx.pick([
            f"chain({a.name}.s({task_call_args(ctx, t, a.nargs)}), {b.name}.si({task_call_args(ctx, t, b.nargs)}))",
            f"group({a.name}.s({task_call_args(ctx, t, a.nargs)}) for _ in range(10))",
            f"chord([{a.name}.s({task_call_args(ctx, t, a.nargs)})], {b.name}.s())",
        ])
        lines += [
            f"    sig = {canvas}",
            "    return sig.apply_async()",
        ]
    else:
        lines += [
            "    data = {'args': [" + ", ".join(f"arg{i}" for i in range(t.nargs)) + "]}",
            "    data['count'] = len(data['args'])",
            "    cache.set(f'task:{data}', data, timeout=300)",
            "    return data",
        ]
    return lines


def gen_tasks_module(ctx: Ctx, app: str, idx: int, n_tasks: int) -> str:
    rng = ctx.rng
    module = f"apps.{app}.tasks_{idx}"
    earlier = [t for t in ctx.tasks if t.module != module]
    callable_tasks = rng.sample(earlier, min(len(earlier), 3)) if earlier else []
    use_app = rng.random() < 0.4
    out = [
        f'"""Background tasks for {app} (part {idx})."""',
        "",
        "import logging",
        "import time",
        "",
        "import requests",
    ]
    out.append("from celery import chain, chord, group" + ("" if use_app else ", shared_task"))
    out += [
        "from django.core.cache import cache",
        "from django.db import transaction",
        "",
    ]
    if use_app:
        out.append("from proj.celery import app")
    out.append(f"from apps.{app}.models import Customer, Invoice, Order, Record, Report")
    for t in sorted(callable_tasks, key=lambda t: (t.module, t.name)):
        out.append(f"from {t.module} import {t.name}")
    out += ["", "logger = logging.getLogger(__name__)", "", ""]
    local = []
    for k in range(n_tasks):
        name = f"{ident(ctx)}_{app}_{idx}_{k}"
        t = Task(module, name, bound=rng.random() < 0.35, nargs=rng.randint(0, 3))
        out.append(task_decorator(ctx, use_app, t.bound, f"{module}.{name}"))
        out += gen_task_body(ctx, t, callable_tasks + local)
        out += ["", ""]
        local.append(t)
    ctx.tasks.extend(local)
    return "\n".join(out).rstrip() + "\n"


def gen_caller_module(ctx: Ctx, app: str, kind: str, idx: int, n_funcs: int) -> str:
    rng = ctx.rng
    used = rng.sample(ctx.tasks, min(len(ctx.tasks), 4))
    out = [
        f'"""{kind.capitalize()} for {app} (part {idx})."""',
        "",
        "import requests",
        "from django.db import transaction",
    ]
    if kind == "views":
        out.append("from django.http import JsonResponse")
    out.append(f"from apps.{app}.models import Order, Record")
    for t in sorted(used, key=lambda t: (t.module, t.name)):
        out.append(f"from {t.module} import {t.name}")
    out += ["", ""]
    for k in range(n_funcs):
        t = ctx.pick(used)
        fname = f"{ctx.pick(VERBS)}_{ctx.pick(NOUNS)}_{k}"
        sig = "request, pk" if kind == "views" else "pk, user_id=None, payload=None"
        out.append(f"def {fname}({sig}):")
        style = rng.random()
        names = ("order.pk", "pk", "'abc'", "order") + (("payload", "user_id") if kind == "services" else ())
        args = call_args(ctx, t.nargs, names=names)
        if style < 0.25:
            out += [
                "    with transaction.atomic():",
                "        order = Order.objects.select_for_update().get(pk=pk)",
                "        order.state = 'paid'",
                "        order.save()",
                f"        {t.name}.delay({args})",
            ]
        elif style < 0.45:
            out += [
                "    with transaction.atomic():",
                "        order = Order.objects.get(pk=pk)",
                "        order.touch()",
                f"        transaction.on_commit(lambda: {t.name}.delay({args}))",
            ]
        elif style < 0.65:
            opts = ctx.pick([
                "countdown=10",
                f"queue={ctx.pick(QUEUES)!r}",
                "eta=None, expires=3600",
                "priority=5, retry=False",
                f"queue={ctx.pick(QUEUES)!r}, countdown=30",
            ])
            out += [
                "    order = Order.objects.get(pk=pk)",
                f"    {t.name}.apply_async(args=[{args}], {opts})",
            ]
        elif style < 0.8:
            out += [
                "    order = Order.objects.get(pk=pk)",
                f"    resp = requests.post('https://{ctx.pick(HOSTS)}/notify', json={{'id': pk}}"
                + (", timeout=5" if rng.random() < 0.5 else "")
                + ")",
                "    if resp.ok:",
                f"        {t.name}.delay({args})",
            ]
        else:
            out += [
                "    order = Order.objects.get(pk=pk)",
                f"    sig = {t.name}.s({args})",
                "    sig.delay()",
            ]
        out.append("    records = list(Record.objects.filter(owner=pk)[:50])")
        out.append("    summary = {r.pk: r.status for r in records}")
        if kind == "views":
            out.append("    return JsonResponse({'ok': True, 'summary': summary})")
        else:
            out.append("    return summary")
        out += ["", ""]
    return "\n".join(out).rstrip() + "\n"


def gen_utils_module(ctx: Ctx, app: str, idx: int) -> str:
    rng = ctx.rng
    out = [f'"""Helpers for {app} (part {idx})."""', "", "from __future__ import annotations", "",
           "import dataclasses", "import re", "from typing import Iterable", "", ""]
    for k in range(rng.randint(3, 5)):
        cls = f"{ctx.pick(NOUNS).title().replace('_', '')}Helper{k}"
        out += [
            "@dataclasses.dataclass",
            f"class {cls}:",
            "    name: str",
            "    size: int = 0",
            "    tags: tuple[str, ...] = ()",
            "",
            "    def normalized(self) -> str:",
            "        return re.sub(r'[^a-z0-9]+', '-', self.name.lower()).strip('-')",
            "",
            "    def weight(self, factor: float = 1.0) -> float:",
            "        if self.size <= 0:",
            "            return 0.0",
            "        return self.size * factor / (len(self.tags) + 1)",
            "",
            "",
            f"def summarize_{k}(items: Iterable[{cls}]) -> dict[str, float]:",
            "    out: dict[str, float] = {}",
            "    for item in items:",
            "        key = item.normalized()",
            "        out[key] = out.get(key, 0.0) + item.weight()",
            "    return dict(sorted(out.items()))",
            "",
            "",
        ]
    return "\n".join(out).rstrip() + "\n"


MODELS = '''"""Models for {app}."""

from django.db import models


class Record(models.Model):
    owner = models.IntegerField(db_index=True)
    status = models.CharField(max_length=32, default="new")


class Customer(models.Model):
    email = models.EmailField(unique=True)


class Order(models.Model):
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE)
    state = models.CharField(max_length=16, default="new")
    status = models.CharField(max_length=16, default="new")

    def touch(self):
        self.save(update_fields=["state"])


class Invoice(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE)
    status = models.CharField(max_length=16, default="draft")


class Report(models.Model):
    status = models.CharField(max_length=16, default="pending")
'''

APPS_PY = '''from django.apps import AppConfig


class {cls}Config(AppConfig):
    name = "apps.{app}"

    def ready(self):
        from apps.{app} import signals  # noqa: F401
'''

SIGNALS = '''"""Signal handlers for {app}."""

from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver

from apps.{app}.models import Order
from {mod} import {task}


@receiver(post_save, sender=Order)
def order_saved(sender, instance, created, **kwargs):
    if created:
        {task}.delay({args})
    else:
        transaction.on_commit(lambda: {task}.apply_async(args=[{args}], countdown=5))
'''

CELERY_APP = '''import os

from celery import Celery
from celery.schedules import crontab

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "proj.settings.prod")

app = Celery("proj")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

app.conf.beat_schedule = {{
{beat}
}}


@app.task(bind=True, ignore_result=True)
def debug_task(self):
    print(f"Request: {{self.request!r}}")
'''

SETTINGS_BASE = '''"""Base settings."""

import os

SECRET_KEY = os.environ.get("SECRET_KEY", "dev")
DEBUG = False
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django_celery_beat",
{apps}
]
DATABASES = {{"default": {{"ENGINE": "django.db.backends.postgresql", "NAME": "proj", "ATOMIC_REQUESTS": True}}}}

CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "redis://localhost:6379/0")
CELERY_RESULT_BACKEND = "redis://localhost:6379/1"
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 600
CELERY_TASK_SOFT_TIME_LIMIT = 540
CELERY_TIMEZONE = "UTC"
CELERY_TASK_ROUTES = {{
{routes}
}}
'''

SETTINGS_VARIANTS = {
    "dev": 'from proj.settings.base import *  # noqa: F401,F403\n\nDEBUG = True\nCELERY_TASK_ALWAYS_EAGER = True\nCELERY_TASK_EAGER_PROPAGATES = True\n',
    "test": 'from proj.settings.base import *  # noqa: F401,F403\n\nCELERY_TASK_ALWAYS_EAGER = True\nCELERY_BROKER_URL = "memory://"\n',
    "prod": 'from proj.settings.base import *  # noqa: F401,F403\n\nCELERY_BROKER_URL = "amqp://guest:guest@rabbit:5672//"\nCELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}\nCELERY_WORKER_MAX_TASKS_PER_CHILD = 500\nCELERY_RESULT_EXPIRES = 86400\n',
    "worker": 'from proj.settings.prod import *  # noqa: F401,F403\n\nCELERY_WORKER_CONCURRENCY = 8\nCELERY_TASK_REJECT_ON_WORKER_LOST = True\nCELERY_WORKER_SEND_TASK_EVENTS = True\n',
}


def generate(n_apps: int, seed: int, per_app: dict[str, int]) -> dict[str, str]:
    ctx = Ctx(rng=random.Random(seed))
    files: dict[str, str] = {}
    app_names = [f"{NOUNS[i % len(NOUNS)]}{i // len(NOUNS) or ''}" for i in range(n_apps)]
    # Task modules first (app by app, so later modules may import earlier tasks),
    # then callers, so every import names an existing task.
    for app in app_names:
        files[f"apps/{app}/__init__.py"] = ""
        files[f"apps/{app}/models.py"] = MODELS.format(app=app)
        cls = "".join(p.title() for p in app.split("_"))
        files[f"apps/{app}/apps.py"] = APPS_PY.format(app=app, cls=cls)
        for i in range(per_app["tasks"]):
            files[f"apps/{app}/tasks_{i}.py"] = gen_tasks_module(ctx, app, i, ctx.rng.randint(5, 9))
    for app in app_names:
        for i in range(per_app["services"]):
            files[f"apps/{app}/services_{i}.py"] = gen_caller_module(ctx, app, "services", i, ctx.rng.randint(5, 8))
        for i in range(per_app["views"]):
            files[f"apps/{app}/views_{i}.py"] = gen_caller_module(ctx, app, "views", i, ctx.rng.randint(4, 7))
        for i in range(per_app["utils"]):
            files[f"apps/{app}/utils_{i}.py"] = gen_utils_module(ctx, app, i)
        t = ctx.pick([t for t in ctx.tasks if t.module.startswith(f"apps.{app}.")])
        files[f"apps/{app}/signals.py"] = SIGNALS.format(
            app=app, mod=t.module, task=t.name,
            args=", ".join(["instance.pk"] * t.nargs))
    files["apps/__init__.py"] = ""
    files["proj/__init__.py"] = "from proj.celery import app as celery_app\n\n__all__ = (\"celery_app\",)\n"
    beat = []
    for i, t in enumerate(ctx.rng.sample(ctx.tasks, 25)):
        sched = ctx.pick(["crontab(minute=0, hour='*/3')", "crontab(minute='*/15')", "300.0", "crontab(hour=4, minute=30, day_of_week=1)"])
        beat.append(f"    {('beat-' + t.name)!r}: {{'task': {(t.module + '.' + t.name)!r}, 'schedule': {sched}}},")
    files["proj/celery.py"] = CELERY_APP.format(beat="\n".join(beat))
    files["proj/settings/__init__.py"] = ""
    routes = [f"    {(t.module + '.' + t.name)!r}: {{'queue': {ctx.pick(QUEUES)!r}}}," for t in ctx.rng.sample(ctx.tasks, 40)]
    files["proj/settings/base.py"] = SETTINGS_BASE.format(
        apps="\n".join(f'    "apps.{a}",' for a in app_names), routes="\n".join(routes))
    for name, body in SETTINGS_VARIANTS.items():
        files[f"proj/settings/{name}.py"] = body
    files["manage.py"] = (
        "#!/usr/bin/env python\nimport os\nimport sys\n\n\nif __name__ == \"__main__\":\n"
        "    os.environ.setdefault(\"DJANGO_SETTINGS_MODULE\", \"proj.settings.dev\")\n"
        "    from django.core.management import execute_from_command_line\n\n"
        "    execute_from_command_line(sys.argv)\n")
    return files


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, help="output directory (created)")
    ap.add_argument("--apps", type=int, default=40, help="number of Django apps (default 40)")
    ap.add_argument("--seed", type=int, default=20240601)
    ap.add_argument("--tasks-per-app", type=int, default=14)
    ap.add_argument("--services-per-app", type=int, default=12)
    ap.add_argument("--views-per-app", type=int, default=10)
    ap.add_argument("--utils-per-app", type=int, default=10)
    ap.add_argument("--force", action="store_true", help="replace an existing output directory")
    args = ap.parse_args(argv)

    if os.path.exists(args.out) and os.listdir(args.out):
        if not args.force:
            print(f"gen_corpus: {args.out} exists and is not empty (use --force)", file=sys.stderr)
            return 2
        shutil.rmtree(args.out)
    per_app = {"tasks": args.tasks_per_app, "services": args.services_per_app,
               "views": args.views_per_app, "utils": args.utils_per_app}
    files = generate(args.apps, args.seed, per_app)
    tmp = args.out.rstrip("/") + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    lines = 0
    for rel in sorted(files):
        path = os.path.join(tmp, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(files[rel])
        lines += files[rel].count("\n")
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    shutil.rmtree(args.out, ignore_errors=True)
    os.rename(tmp, args.out)
    print(f"gen_corpus: wrote {len(files)} files, {lines} lines to {args.out} (seed {args.seed})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
