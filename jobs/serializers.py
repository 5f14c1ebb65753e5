from rest_framework import serializers
from rest_framework.reverse import reverse

from jobs import kinds
from jobs.creation import MAX_BATCH
from jobs.models import Job, JobStatus


class JobSerializer(serializers.ModelSerializer):
    links = serializers.SerializerMethodField()

    class Meta:
        model = Job
        fields = [
            "id", "type", "status", "progress", "params", "result", "error", "attempt",
            "created_at", "started_at", "finished_at", "callback_url", "links",
        ]  # fmt: skip
        read_only_fields = fields

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


class JobCreateSerializer(serializers.Serializer):
    """The envelope of `POST /api/jobs`; the kind's own serializer checks `params`."""

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
