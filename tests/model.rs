//! The project model (catalog §2) from real multi-module sources: configuration layers and
//! name normalisation, task names and options, dispatch resolution, canvas, routing.

use std::path::PathBuf;

use celery_doctor::lint::model::facts::{ArgCount, CanvasKind, DispatchKind, ResultUse, Value};
use celery_doctor::lint::model::settings::KeyKind;
use celery_doctor::lint::model::{ModelOptions, Project, SourceKind};
use celery_doctor::lint::{self, InputFile};

fn project(files: &[(&str, &str)]) -> Project {
    let paths: Vec<PathBuf> = files.iter().map(|(p, _)| PathBuf::from(p)).collect();
    let names = lint::module_names_in_memory(&paths);
    let inputs = files
        .iter()
        .zip(names)
        .map(|((p, t), (module, is_package))| InputFile {
            path: PathBuf::from(p),
            text: t.to_string(),
            module,
            is_package,
            disk: None,
        })
        .collect();
    lint::build_project(inputs, Vec::new(), &ModelOptions::default()).unwrap()
}

const CELERY_PY: &str = "import os\nfrom celery import Celery\nos.environ.setdefault('DJANGO_SETTINGS_MODULE', 'proj.settings.production')\napp = Celery('proj')\napp.config_from_object('django.conf:settings', namespace='CELERY')\napp.conf.update(task_acks_late=True)\napp.conf.worker_prefetch_multiplier = 1\n";

#[test]
fn django_split_settings_are_layers_with_normalised_names() {
    let p = project(&[
        ("proj/__init__.py", ""),
        ("proj/celery.py", CELERY_PY),
        ("proj/settings/__init__.py", ""),
        (
            "proj/settings/base.py",
            "from datetime import timedelta\nCELERY_TASK_TIME_LIMIT = 5 * 60\nCELERYD_TASK_SOFT_TIME_LIMIT = 240\nCELERY_RESULT_EXPIRES = timedelta(days=2)\nDEBUG = False\n",
        ),
        (
            "proj/settings/production.py",
            "from .base import *\nimport os\nCELERY_BROKER_URL = os.environ['BROKER']\n",
        ),
    ]);
    let (v, e) = p.setting_value("task_time_limit").unwrap();
    assert_eq!(v, Value::Int(300));
    assert_eq!(e.raw, "CELERY_TASK_TIME_LIMIT");
    assert_eq!(e.source, SourceKind::DjangoSettings);
    assert_eq!(p.file(e.module).display_path(), "proj/settings/base.py");
    // The old name maps as Celery maps it.
    let soft = p.setting("task_soft_time_limit").next().unwrap();
    assert_eq!(soft.kind, KeyKind::Old("task_soft_time_limit".into()));
    assert_eq!(
        p.setting_value("result_expires").unwrap().0,
        Value::Seconds(172_800.0)
    );
    // Env-derived: set, value unknown.
    assert!(p.is_set("broker_url"));
    assert!(matches!(
        p.setting("broker_url").next().unwrap().value,
        Value::Env { .. }
    ));
    // conf.update / conf.x.
    assert_eq!(
        p.setting_value("task_acks_late").unwrap().0,
        Value::Bool(true)
    );
    assert_eq!(
        p.setting_value("worker_prefetch_multiplier").unwrap().0,
        Value::Int(1)
    );
    // Non-Celery Django settings are not Celery settings.
    assert!(
        p.config
            .entries
            .iter()
            .find(|e| e.raw == "DEBUG")
            .is_some_and(|e| e.kind == KeyKind::Unknown)
    );
    assert!(!p.config_unresolved);
}

#[test]
fn tasks_names_options_and_resolution_across_modules() {
    let p = project(&[
        ("proj/__init__.py", ""),
        ("proj/celery.py", CELERY_PY),
        (
            "shop/__init__.py",
            "from .tasks import send_receipt as send\n",
        ),
        (
            "shop/tasks.py",
            "from celery import shared_task\nfrom proj.celery import app as celery_app\n\n@shared_task(bind=True, max_retries=5)\ndef send_receipt(self, order_id, *, locale='en'):\n    pass\n\n@celery_app.task(name='shop.rebuild', queue='search')\ndef rebuild(shop_id):\n    pass\n",
        ),
        (
            "shop/views.py",
            "from shop import send\nfrom shop import tasks\nfrom django.db import transaction\n\ndef view(request):\n    with transaction.atomic():\n        send.delay(1, locale='de')\n        res = tasks.rebuild.apply_async((2,), countdown=5)\n        transaction.on_commit(lambda: tasks.rebuild.delay(3))\n    return res.id\n",
        ),
    ]);
    let names: Vec<Option<&str>> = p.tasks.iter().map(|t| t.name.as_deref()).collect();
    assert_eq!(
        names,
        vec![Some("shop.tasks.send_receipt"), Some("shop.rebuild")]
    );
    let send = &p.tasks[0];
    assert_eq!(p.is_bound(p.def(send)), Some(true));
    assert_eq!(
        p.task_option(p.def(send), "max_retries"),
        Some(Value::Int(5))
    );
    assert_eq!(p.tasks[1].app.as_deref(), Some("proj.celery.app"));

    let calls: Vec<_> = p.calls().map(|(_, c)| c).collect();
    assert_eq!(calls.len(), 3);
    // Re-exported alias `shop.send` resolves to the definition in shop/tasks.py.
    assert_eq!(p.task_for_call(calls[0]), Some(0));
    assert_eq!(calls[0].kind, DispatchKind::Delay);
    assert_eq!(calls[0].args, ArgCount::Known(1));
    assert!(calls[0].atomic.is_some() && !calls[0].deferred);
    assert_eq!(calls[0].result_use, ResultUse::Discarded);
    // apply_async: positional args from the tuple, options kept apart.
    assert_eq!(p.task_for_call(calls[1]), Some(1));
    assert_eq!(calls[1].args, ArgCount::Known(1));
    assert!(
        calls[1]
            .call_keywords
            .iter()
            .any(|(k, v, _)| k == "countdown" && *v == Value::Int(5))
    );
    assert_eq!(calls[1].result_use, ResultUse::Used);
    // Inside on_commit: deferred, so not "inside the atomic block".
    assert!(calls[2].deferred && calls[2].atomic.is_none());
}

#[test]
fn canvas_chains_groups_and_chords() {
    let p = project(&[(
        "flows.py",
        "from celery import Celery, chain, chord, group\napp = Celery('x')\n\n@app.task\ndef a(x): pass\n\n@app.task\ndef b(x): pass\n\n@app.task\ndef done(results): pass\n\ndef run(ids):\n    (a.s(1) | b.s()).delay()\n    chord(a.s(i) for i in ids)(done.si())\n    group([a.s(1), b.s(2)]).apply_async()\n    chain(a.s(1), group(b.s(), b.s())).delay()\n",
    )]);
    let canvases = &p.modules[0].facts.canvases;
    assert_eq!(canvases.len(), 4, "{canvases:#?}");
    assert_eq!(canvases[0].kind, CanvasKind::Chain);
    assert_eq!(
        canvases[0]
            .members
            .iter()
            .map(|m| m.target.as_str())
            .collect::<Vec<_>>(),
        vec!["flows.a", "flows.b"]
    );
    assert_eq!(canvases[1].kind, CanvasKind::Chord);
    assert_eq!(canvases[1].members[0].target, "flows.a");
    assert!(canvases[1].body[0].immutable);
    assert_eq!(canvases[2].kind, CanvasKind::Group);
    assert_eq!(canvases[2].members.len(), 2);
    assert_eq!(canvases[3].members.len(), 3);
    assert!(canvases.iter().all(|c| c.complete));
}

#[test]
fn routes_queues_and_default_queue() {
    let p = project(&[
        (
            "celeryconfig.py",
            "from kombu import Queue\ntask_default_queue = 'default'\ntask_routes = {'reports.*': {'queue': 'reports'}, 'mail.send': 'mail'}\ntask_queues = (Queue('default'), Queue('reports'), Queue(name='mail'))\n",
        ),
        (
            "app.py",
            "from celery import Celery\napp = Celery('x')\napp.config_from_object('celeryconfig')\n\n@app.task(name='reports.daily')\ndef daily(): pass\n\n@app.task(name='mail.send')\ndef send(): pass\n\n@app.task(name='misc.other')\ndef other(): pass\n\n@app.task(name='misc.pinned', queue='pinned')\ndef pinned(): pass\n",
        ),
    ]);
    let queues: Vec<Option<String>> = p.tasks.iter().map(|t| p.task_queue(t)).collect();
    assert_eq!(
        queues,
        vec![
            Some("reports".into()),
            Some("mail".into()),
            Some("default".into()),
            Some("pinned".into())
        ]
    );
    assert_eq!(
        p.task_queues(),
        Some(vec!["default".into(), "reports".into(), "mail".into()])
    );
}

#[test]
fn computed_configuration_is_unknown_not_absent() {
    let p = project(&[(
        "app.py",
        "from celery import Celery\napp = Celery('x')\napp.config_from_object(load_config())\n",
    )]);
    assert!(p.config_unresolved);
    let q = project(&[("app.py", "from celery import Celery\napp = Celery('x')\n")]);
    assert!(!q.config_unresolved);
}

#[test]
fn config_class_entries_point_at_the_defining_module() {
    let p = project(&[
        ("proj/__init__.py", ""),
        (
            "proj/base.py",
            "class Config:\n    task_time_limit = 120\n    broker_url = 'redis://redis:6379/0'\n",
        ),
        ("proj/celeryconfig.py", "from .base import Config\n"),
        (
            "proj/app.py",
            "from celery import Celery\napp = Celery('proj')\napp.config_from_object('proj.celeryconfig:Config')\n",
        ),
    ]);
    let (v, e) = p.setting_value("task_time_limit").unwrap();
    assert_eq!(v, Value::Int(120));
    assert_eq!(e.source, SourceKind::ConfigClass);
    assert_eq!(p.file(e.module).display_path(), "proj/base.py");
}

#[test]
fn canvas_members_know_what_they_receive_and_pass_on() {
    use celery_doctor::lint::model::facts::Feed;
    let p = project(&[(
        "flows.py",
        concat!(
            "from celery import chain, chord, group, shared_task\n",
            "@shared_task\ndef a(x): ...\n@shared_task\ndef b(x): ...\n@shared_task\ndef c(x): ...\n",
            "def f(y):\n",
            "    chain(a.s(1), group(b.s(), c.s()), a.s()).delay()\n",
            "    chord([a.s(1)], b.s())()\n",
            "    (a.s(1).set(queue='q') | b.si(2)).delay()\n",
            "    chain(y, c.s()).delay()\n",
        ),
    )]);
    let m = &p.modules[0].facts;
    let roles = |i: usize| -> Vec<(String, Feed, Feed)> {
        let mut v: Vec<_> = m.canvases[i]
            .members
            .iter()
            .chain(&m.canvases[i].body)
            .map(|x| (x.target.clone(), x.receives, x.feeds))
            .collect();
        v.sort_by(|l, r| l.0.cmp(&r.0));
        v
    };
    use Feed::*;
    // a → group(b, c) → a: the group members get a's value, the last `a` the list.
    let first: Vec<_> = m.canvases[0]
        .members
        .iter()
        .map(|x| (x.target.as_str(), x.receives, x.feeds))
        .collect();
    assert_eq!(
        first,
        vec![
            ("flows.a", Nothing, ParentResult),
            ("flows.b", ParentResult, HeaderResults),
            ("flows.c", ParentResult, HeaderResults),
            ("flows.a", HeaderResults, Nothing),
        ]
    );
    assert_eq!(
        roles(1),
        vec![
            ("flows.a".into(), Nothing, HeaderResults),
            ("flows.b".into(), HeaderResults, Nothing),
        ]
    );
    // `.set(...)` is followed; the member keeps its options.
    let third = &m.canvases[2];
    assert_eq!(third.members.len(), 2);
    let routed = third
        .members
        .iter()
        .find(|x| x.target == "flows.a")
        .unwrap();
    assert_eq!(routed.feeds, ParentResult);
    assert_eq!(routed.set_options[0].0, "queue");
    assert!(
        third
            .members
            .iter()
            .any(|x| x.immutable && x.receives == ParentResult)
    );
    // After an element the model does not understand, nothing is known.
    assert_eq!(roles(3), vec![("flows.c".into(), Unknown, Nothing)]);
}

#[test]
fn dispatch_arguments_and_returns_have_coarse_types() {
    use celery_doctor::lint::model::facts::ValueKind;
    let p = project(&[(
        "views.py",
        concat!(
            "from celery import shared_task\n",
            "from shop.models import Order\n",
            "@shared_task\ndef t(*a, **k):\n    return Order.objects.get(pk=1)\n",
            "def v(request, ids):\n",
            "    r = t.delay(1)\n",
            "    f = open('x')\n",
            "    t.delay(r, f, set(ids), request.FILES['x'], r.id, kw=lambda: 1)\n",
        ),
    )]);
    let m = &p.modules[0].facts;
    assert_eq!(m.tasks[0].returns[0].kind, ValueKind::ModelInstance);
    let call = m
        .calls
        .iter()
        .find(|c| c.text == "t.delay" && c.args == ArgCount::Known(5))
        .unwrap();
    let kinds: Vec<_> = call.arg_kinds.iter().map(|a| a.kind.clone()).collect();
    assert_eq!(
        kinds,
        vec![
            ValueKind::AsyncResult,
            ValueKind::OpenFile,
            ValueKind::Set,
            ValueKind::UploadedFile,
            ValueKind::Lambda,
        ]
    );
    assert_eq!(call.arg_kinds[4].keyword.as_deref(), Some("kw"));
}

#[test]
fn unreadable_configuration_makes_the_whole_configuration_unknown() {
    let app = "from celery import Celery\nfrom deploy import EXTERNAL, load\napp = Celery('x')\n";
    for line in [
        "app.config_from_envvar('CELERY_CONFIG_MODULE')\n",
        "app.config_from_object(os.environ.get('CFG', 'celeryconfig'))\n",
        "app.config_from_object(EXTERNAL)\n",
        "app.conf.update(EXTERNAL)\n",
        "app.conf.update(**load())\n",
    ] {
        let p = project(&[("app.py", &format!("import os\n{app}{line}"))]);
        assert!(p.config_unresolved, "{line}");
        assert_eq!(p.default_queue(), None, "{line}");
        assert_eq!(p.task_queues(), None, "{line}");
    }
    // Test code does not configure the deployed app.
    let p = project(&[
        ("app.py", app),
        (
            "tests/test_app.py",
            "from app import app\napp.config_from_envvar('X')\n",
        ),
    ]);
    assert!(!p.config_unresolved);
    assert_eq!(p.default_queue().as_deref(), Some("celery"));
}
