"""Settings of django-tasks' other backends for bench/peers.py: the smallest Django project that
runs `bench.peertask.add` on django-tasks-rq (BENCH_PEER=rq) or django-tasks-db (BENCH_PEER=db),
as their documentation sets them up, on the benchmark's scratch database and a spare Redis."""

import os

import dj_database_url

PEER = os.environ["BENCH_PEER"]
SECRET_KEY = "bespin-bench-peers-only"
DEBUG = False
USE_TZ = True
ALLOWED_HOSTS = ["127.0.0.1"]
DATABASES = {"default": dj_database_url.parse(os.environ["DATABASE_URL"])}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
INSTALLED_APPS = ["django.contrib.contenttypes", "django_tasks"]
if PEER == "rq":
    INSTALLED_APPS += ["django_rq", "django_tasks_rq"]
    TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default"]}}
    RQ_QUEUES = {"default": {"URL": os.environ["REDIS_URL"]}}
elif PEER == "db":
    INSTALLED_APPS += ["django_tasks_db"]
    TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
else:
    raise ValueError(f"BENCH_PEER={PEER!r}: rq or db")
LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "WARNING"}}
