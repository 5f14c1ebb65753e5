"""Starting a job from the dashboard: each task's page has its form, built from the task's
parameters; the jobs page links to the tasks the user may start; the Tasks page lists every
task loaded."""

import re

import pytest
from django.urls import reverse

from bespin.testing import tasks
from jobs import registry
from jobs.models import Job

pytestmark = pytest.mark.django_db


def _input(page: str, input_id: str) -> str:
    match = re.search(rf'<input id="{input_id}"[^>]*>', page, re.S)
    assert match, f"no input {input_id}"
    return match.group(0)


def _task_page(client, name: str) -> str:
    return client.get(reverse("task-detail", args=[name])).content.decode()


def test_each_task_has_a_form_with_a_labelled_input_per_parameter(signed_in, settings):
    page = _task_page(signed_in, "random_text") + _task_page(signed_in, "sleep")
    assert '<label for="random_text-length">Length</label>' in page
    assert '<label for="sleep-seconds">Seconds</label>' in page
    length = _input(page, "random_text-length")
    assert 'type="number"' in length and 'min="1"' in length and 'step="1"' in length
    assert f'max="{settings.RANDOM_TEXT_MAX_WORDS}"' in length and 'value="100"' in length
    seconds = _input(page, "sleep-seconds")
    assert 'min="0"' in seconds and f'max="{settings.SLEEP_MAX_SECONDS}"' in seconds and 'step="any"' in seconds
    assert "required" in seconds
    # The jobs page links to each task offered; the Tasks page lists every task loaded.
    listed = signed_in.get(reverse("job-list")).content.decode()
    for name in registry.offered():
        assert reverse("task-detail", args=[name]) in listed
    tasks_page = signed_in.get(reverse("task-list")).content.decode()
    for name in registry.registered():
        assert f'data-task="{name}"' in tasks_page
    assert "code only" in tasks_page  # examples.reports' rebuild_index: not offered


def test_the_callback_hint_links_the_page_where_the_secret_is_made(signed_in):
    page = _task_page(signed_in, "sleep")
    api_access = reverse("api-access")
    assert f'(create one on the <a href="{api_access}">API access</a> page).</p>' in page


def test_a_new_task_gets_its_form(signed_in, register_task):
    register_task(tasks.echo, "echo")
    page = _task_page(signed_in, "echo")
    assert '<label for="echo-word">Word</label>' in page and 'type="text"' in _input(page, "echo-word")
    assert '<input type="checkbox" id="echo-loud" name="loud">' in page
    assert '<select id="echo-mood" name="mood"' in page and '<option value="calm" selected>' in page
    response = signed_in.post(reverse("job-start"), {"kind": "echo", "word": "hi", "loud": "on", "mood": "busy"})
    assert response.status_code == 302
    assert Job.objects.get().params == {"word": "hi", "loud": True, "mood": "busy"}


def test_a_valid_form_starts_a_job_of_the_user_and_comes_back_with_a_link(signed_in, owner, queue):
    response = signed_in.post(reverse("job-start"), {"kind": "sleep", "seconds": "1.5"}, follow=True)
    job = Job.objects.get()
    assert (job.type, job.params, job.owner, job.status) == ("sleep", {"seconds": 1.5}, owner, "pending")
    assert response.redirect_chain == [(reverse("job-list"), 302)]
    assert f'Started sleep job <a href="{reverse("job-detail", args=[job.id])}">' in response.content.decode()


def test_a_blank_input_takes_the_kinds_default(signed_in):
    signed_in.post(reverse("job-start"), {"kind": "random_text", "length": ""})
    assert Job.objects.get().params == {"length": 100}


@pytest.mark.parametrize(
    "data, input_id, message",
    [
        ({"kind": "random_text", "length": "0"}, "random_text-length", "greater than or equal to 1"),
        ({"kind": "random_text", "length": "many"}, "random_text-length", "A valid integer is required"),
        ({"kind": "random_text", "length": "100001"}, "random_text-length", "less than or equal to 100000"),
        ({"kind": "sleep"}, "sleep-seconds", "This field is required"),
        ({"kind": "sleep", "seconds": "-1"}, "sleep-seconds", "greater than or equal to 0"),
    ],
)
def test_a_bad_value_is_400_with_the_error_beside_its_input(signed_in, data, input_id, message):
    response = signed_in.post(reverse("job-start"), data)
    assert response.status_code == 400
    page = response.content.decode()
    error = re.search(rf'<p class="error" id="{input_id}-error">([^<]*)</p>', page)
    assert error and message in error.group(1)
    field = _input(page, input_id)
    assert 'aria-invalid="true"' in field and f"{input_id}-error" in field
    if "length" in data or "seconds" in data:
        assert f'value="{data.get("length", data.get("seconds"))}"' in field  # what was typed stays
    assert Job.objects.count() == 0


def test_an_unknown_kind_is_400_and_starts_nothing(signed_in):
    response = signed_in.post(reverse("job-start"), {"kind": "<b>rm</b>"})
    assert response.status_code == 400
    assert "Unknown job type &#x27;&lt;b&gt;rm&lt;/b&gt;&#x27;" in response.content.decode()
    assert Job.objects.count() == 0


def test_the_form_is_a_plain_post_that_needs_no_javascript(signed_in):
    page = _task_page(signed_in, "sleep")
    form = re.search(r'<form method="post" action="/jobs/new"[^>]*>(.*?)</form>', page, re.S).group(1)
    assert 'name="csrfmiddlewaretoken"' in form and '<button type="submit">' in form


def test_starting_needs_a_post(signed_in):
    assert signed_in.get(reverse("job-start")).status_code == 405


def test_a_task_not_offered_has_a_page_without_a_form_and_the_api_refuses_it(signed_in):
    page = _task_page(signed_in, "examples.reports.tasks.rebuild_index")
    assert "<dd>code only</dd>" in page and 'action="/jobs/new"' not in page
    response = signed_in.post(reverse("job-start"), {"kind": "examples.reports.tasks.rebuild_index"})
    assert response.status_code == 400 and Job.objects.count() == 0


def test_a_task_that_is_not_loaded_has_no_page(signed_in):
    assert signed_in.get(reverse("task-detail", args=["reports.tasks.gone"])).status_code == 404


def test_list_and_object_parameters_are_typed_as_json_in_the_form(signed_in):
    name = "examples.reports.tasks.summarize"
    page = _task_page(signed_in, name)
    assert f'<textarea id="{name}-tags" name="tags"' in page and "JSON, such as [&quot;a&quot;, &quot;b&quot;]" in page
    data = {"kind": name, "text": "a b c", "tags": '["x", "y"]', "weights": '{"x": 2}'}
    assert signed_in.post(reverse("job-start"), data).status_code == 302
    assert Job.objects.get().params == {"text": "a b c", "tags": ["x", "y"], "weights": {"x": 2.0}}
    refused = signed_in.post(reverse("job-start"), {**data, "tags": "x, y"})
    assert refused.status_code == 400
    error = rf'<p class="error" id="{re.escape(name)}-tags-error">not valid JSON</p>'
    assert re.search(error, refused.content.decode())
    too_deep = signed_in.post(reverse("job-start"), {**data, "tags": "[" * 100_000 + "]" * 100_000})
    assert too_deep.status_code == 400
    error = rf'<p class="error" id="{re.escape(name)}-tags-error">nested deeper than 100 levels</p>'
    assert re.search(error, too_deep.content.decode())
    assert Job.objects.count() == 1
