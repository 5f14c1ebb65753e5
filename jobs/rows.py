"""The job table's hot statements with what the ORM would work out on every call done once:
jobs loaded from the rows an `UPDATE … RETURNING {RETURNING}` returns (RawQuerySet finds the
columns' order, the fields and their converters again each time, a good share of a worker's
time per job), and the INSERT of new jobs, one or a batch.
"""

from functools import cache

from django.db import connection, models

from jobs.models import Job

_FIELDS = Job._meta.concrete_fields
# The columns every statement here returns, in the model's order.
RETURNING = ", ".join(f'"{field.column}"' for field in _FIELDS)
_NAMES = [field.attname for field in _FIELDS]


@cache
def _converters() -> tuple:
    """(position, converters, column) for each field whose database value needs converting
    (the JSON fields' text into Python values)."""
    found = []
    for position, field in enumerate(_FIELDS):
        column = field.get_col(Job._meta.db_table)
        converters = connection.ops.get_db_converters(column) + field.get_db_converters(connection)
        if converters:
            found.append((position, tuple(converters), column))
    return tuple(found)


def fetch_jobs(sql: str, params) -> list[Job]:
    """Run `sql` (which ends in RETURNING {RETURNING}) and load a Job from each row."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    converters = _converters()
    jobs = []
    for row in rows:
        values = list(row)
        for position, functions, column in converters:
            for convert in functions:
                values[position] = convert(values[position], column, connection)
        jobs.append(Job.from_db(connection.alias, _NAMES, values))
    return jobs


_INSERT_SQL = f'INSERT INTO "{Job._meta.db_table}" ({RETURNING}) VALUES ({", ".join(["%s"] * len(_FIELDS))})'
# Only JSON needs Django's adapting (psycopg's Jsonb) on the way in: psycopg takes the other
# columns' Python values (str, int, UUID, aware datetime, None) as they are. A test holds the
# rows written here equal to the ORM's.
_JSON = tuple(isinstance(field, models.JSONField) for field in _FIELDS)


def _values(job: Job) -> list:
    """The job's column values, as `save(force_insert=True)` would send them (its
    auto_now_add time filled in)."""
    return [
        field.get_db_prep_save(field.pre_save(job, True), connection) if json else field.pre_save(job, True)
        for field, json in zip(_FIELDS, _JSON, strict=True)
    ]


def _inserted(job: Job) -> None:
    job._state.adding = False
    job._state.db = connection.alias


def insert_job(job: Job) -> None:
    """INSERT a new job as `job.save(force_insert=True)` would, with the statement written
    once instead of built by the ORM on every call."""
    with connection.cursor() as cursor:
        cursor.execute(_INSERT_SQL, _values(job))
    _inserted(job)


@cache
def _insert_many_sql() -> str:
    # One array per column, as Django's bulk_create does on PostgreSQL (a plan that does not
    # grow with the rows); the types without their length, so that nothing is cut.
    arrays = ", ".join(f"%s::{field.db_type(connection).split('(')[0]}[]" for field in _FIELDS)
    return f'INSERT INTO "{Job._meta.db_table}" ({RETURNING}) SELECT * FROM UNNEST({arrays})'


def insert_jobs(jobs: list[Job]) -> None:
    """INSERT new jobs in one statement, as `Job.objects.bulk_create(jobs)` would, without
    the ORM's preparing of every field of every row (a third of a batch's time)."""
    columns = [list(column) for column in zip(*map(_values, jobs), strict=True)]
    with connection.cursor() as cursor:
        cursor.execute(_insert_many_sql(), columns)
    for job in jobs:
        _inserted(job)
