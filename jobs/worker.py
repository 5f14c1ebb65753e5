"""The worker class `manage.py rqworker` runs (settings.RQ["WORKER_CLASS"]).

A SimpleWorker runs each job in the worker process instead of forking one child per job,
which costs several milliseconds and loses every warm connection (PostgreSQL, Redis, the
channel layer) each time. Job timeouts still work: RQ arms SIGALRM in the worker itself.
"""

from rq.worker import SimpleWorker


class BespinWorker(SimpleWorker):
    pass
