"""The job table's hot statements with what the ORM would work out on every call done once:
jobs loaded from the rows an `UPDATE … RETURNING {RETURNING}` returns (RawQuerySet finds the
columns' order, the fields and their converters again each time: a tenth of a worker's time
per job), and the INSERT of a new job.
"""

from functools import cache

from django.db import connection

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


def insert_job(job: Job) -> None:
    """INSERT a new job as `job.save(force_insert=True)` would (its auto_now_add time filled
    in), with the statement written once instead of built by the ORM on every call."""
    values = [field.get_db_prep_save(field.pre_save(job, True), connection) for field in _FIELDS]
    with connection.cursor() as cursor:
        cursor.execute(_INSERT_SQL, values)
    job._state.adding = False
    job._state.db = connection.alias
