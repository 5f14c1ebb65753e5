from rest_framework import serializers
from rest_framework.reverse import reverse

from jobs import kinds
from jobs.creation import MAX_BATCH
from jobs.models import Job, JobStatus, Priority
from jobs.timing import TimingSerializer

_TIME = serializers.DateTimeField()


class JobSerializer(serializers.Serializer):
    """The job resource. Its fields say what each key holds (the OpenAPI schema reads them);
    `to_representation` writes the dict directly, which is what DRF's own rendering gives
    (a test compares them) for a tenth of its cost on a hot path: a ModelSerializer builds its
    fields again for every instance."""

    id = serializers.UUIDField(read_only=True)
    type = serializers.CharField(read_only=True)
    status = serializers.ChoiceField(choices=JobStatus.choices, read_only=True)
    priority = serializers.ChoiceField(choices=Priority.choices, read_only=True)
    progress = serializers.IntegerField(min_value=0, max_value=100, read_only=True)
    params = serializers.JSONField(read_only=True)
    result = serializers.JSONField(read_only=True, allow_null=True)
    error = serializers.CharField(read_only=True)
    attempt = serializers.IntegerField(min_value=1, read_only=True)
    run_at = serializers.DateTimeField(
        read_only=True, allow_null=True, help_text="when it was asked to run; a `scheduled` job waits for it"
    )
    created_at = serializers.DateTimeField(read_only=True)
    started_at = serializers.DateTimeField(read_only=True, allow_null=True)
    finished_at = serializers.DateTimeField(read_only=True, allow_null=True)
    callback_url = serializers.CharField(read_only=True)
    schedule = serializers.UUIDField(
        source="schedule_id", read_only=True, allow_null=True, help_text="the schedule that started it, if one did"
    )
    links = serializers.SerializerMethodField()

    def to_representation(self, job: Job) -> dict:
        return {
            "id": str(job.id),
            "type": job.type,
            "status": job.status,
            "priority": job.priority,
            "progress": job.progress,
            "params": job.params,
            "result": job.result,
            "error": job.error,
            "attempt": job.attempt,
            "run_at": _TIME.to_representation(job.run_at),
            "created_at": _TIME.to_representation(job.created_at),
            "started_at": _TIME.to_representation(job.started_at),
            "finished_at": _TIME.to_representation(job.finished_at),
            "callback_url": job.callback_url,
            "schedule": str(job.schedule_id) if job.schedule_id is not None else None,
            "links": self.get_links(job),
        }

    def get_links(self, job: Job) -> dict:
        """This job in the API (`self`) and its status stream (`websocket`)."""
        # On the request's host; without a request (a callback's body), on the context's
        # `public_url` origin, as a request to it would give them.
        request = self.context.get("request")
        links = {"self": reverse("api-job-detail", args=[job.id], request=request)}
        if request is not None:
            scheme = "wss" if request.is_secure() else "ws"
            links["websocket"] = f"{scheme}://{request.get_host()}/api/ws/jobs?job_id={job.id}"
        elif origin := self.context.get("public_url"):
            scheme, host = origin.split("://", 1)
            links["self"] = origin + links["self"]
            links["websocket"] = f"{'wss' if scheme == 'https' else 'ws'}://{host}/api/ws/jobs?job_id={job.id}"
        return links


class JobCreateSerializer(TimingSerializer):
    """The envelope of `POST /api/jobs`; the kind's own serializer checks `params`, and
    jobs.timing `run_at`, `delay` and `priority` together."""

    type = serializers.ChoiceField(choices=sorted(kinds.KINDS))
    params = serializers.DictField(required=False, default=dict)
    callback_url = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=2000, trim_whitespace=True,
        help_text="http(s) URL that Bespin POSTs the job to, signed, once it ends (needs sign-in and a "
        "callback secret: POST /api/me/callback-secret)",
    )  # fmt: skip


class JobBatchSerializer(serializers.Serializer):
    """The body of `POST /api/jobs/batch`."""

    jobs = serializers.ListField(child=JobCreateSerializer(), min_length=1, max_length=MAX_BATCH)


class JobBatchResultSerializer(serializers.Serializer):
    jobs = JobSerializer(many=True)


class JobListFilter(serializers.Serializer):
    status = serializers.ChoiceField(choices=JobStatus.values, required=False)
    type = serializers.ChoiceField(choices=sorted(kinds.KINDS), required=False)
    schedule = serializers.UUIDField(required=False, help_text="the jobs one schedule started")


class RandomTextBodySerializer(serializers.Serializer):
    length = serializers.IntegerField(required=False, help_text="words (default 100); `?length=` wins")
    callback_url = serializers.CharField(required=False, help_text="as for POST /api/jobs; `?callback_url=` wins")


class ErrorSerializer(serializers.Serializer):
    error = serializers.CharField(help_text="why the request failed")
    fields = serializers.DictField(required=False, help_text="per-field messages, for bad input")


class LivenessSerializer(serializers.Serializer):
    message = serializers.CharField()
    timestamp = serializers.DateTimeField()


class ApiInfoSerializer(serializers.Serializer):
    name = serializers.CharField()
    version = serializers.CharField()
    description = serializers.CharField()
    links = serializers.DictField(child=serializers.CharField())
    job_types = serializers.ListField(child=serializers.CharField())
