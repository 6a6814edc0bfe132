"""Publish real tasks with Celery's own ``send_task`` (celery-doctor live tests).

Uses the broker scope of ``liveapp`` (the ``CDT_*`` environment variables), so
messages land exactly where that scope's workers look. Prints the task ids as a
JSON array on stdout (nothing else goes to stdout).

Examples::

    python publish.py --task liveapp.add --args '[2, 3]' --count 3
    python publish.py --task liveapp.send_email --args '["a@b.c"]' --kwargs '{"subject": "hi"}'
    python publish.py --task liveapp.add --args '[1, 2]' --queue parked --serializer msgpack --priority 6
    python publish.py --task nosuch.task --queue parked --protocol 1 --compression gzip
    python publish.py --task liveapp.add --args '[1, 2]' --retries 5
"""

import argparse
import json
import sys
import uuid


def json_arg(kind):
    def parse(text):
        try:
            value = json.loads(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"not JSON: {exc}") from None
        if not isinstance(value, kind):
            raise argparse.ArgumentTypeError(f"expected a JSON {kind.__name__}")
        return value

    return parse


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--task", default="liveapp.add", help="task name (need not be registered)")
    p.add_argument("--args", type=json_arg(list), default=[], help="JSON array")
    p.add_argument("--kwargs", type=json_arg(dict), default={}, help="JSON object")
    p.add_argument("--queue", help="queue name (default: task_routes, else 'celery')")
    p.add_argument("--exchange", help="exchange name")
    p.add_argument("--routing-key", help="routing key")
    p.add_argument("--serializer", choices=["json", "msgpack", "yaml", "pickle"])
    p.add_argument("--priority", type=int)
    p.add_argument("--countdown", type=float, help="seconds (ETA)")
    p.add_argument("--expires", type=float, help="seconds from now")
    p.add_argument("--count", type=int, default=1, help="publish N copies")
    p.add_argument("--protocol", type=int, choices=[1, 2], help="task message protocol")
    p.add_argument("--compression", help="e.g. gzip, bzip2, zlib")
    p.add_argument("--headers", type=json_arg(dict), help="extra message headers, JSON object")
    p.add_argument("--retries", type=int,
                   help="the message's `retries` header, as a task retried N times carries")
    p.add_argument("--task-id", action="append", default=[],
                   help="use this id (repeat once per --count)")
    opts = p.parse_args(argv)

    if opts.task_id and len(opts.task_id) != opts.count:
        p.error("give --task-id exactly --count times")

    from liveapp import app

    if opts.protocol:
        app.conf.task_protocol = opts.protocol

    options = {}
    for name in ("queue", "exchange", "routing_key", "serializer", "priority",
                 "countdown", "expires", "compression", "headers", "retries"):
        value = getattr(opts, name)
        if value is not None:
            options[name] = value

    ids = []
    with app.producer_or_acquire() as producer:
        for i in range(opts.count):
            task_id = opts.task_id[i] if opts.task_id else str(uuid.uuid4())
            result = app.send_task(opts.task, args=opts.args, kwargs=opts.kwargs,
                                   task_id=task_id, producer=producer, **options)
            ids.append(result.id)
    json.dump(ids, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
