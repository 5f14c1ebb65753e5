from rest_framework import serializers
from rest_framework.reverse import reverse

from jobs import kinds
from jobs.models import Job, JobStatus


class JobSerializer(serializers.ModelSerializer):
    links = serializers.SerializerMethodField()

    class Meta:
        model = Job
        fields = [
            "id", "type", "status", "progress", "params", "result", "error", "attempt",
            "created_at", "started_at", "finished_at", "links",
        ]  # fmt: skip
        read_only_fields = fields

    def get_links(self, job: Job) -> dict:
        request = self.context.get("request")
        links = {"self": reverse("api-job-detail", args=[job.id], request=request)}
        if request is not None:
            scheme = "wss" if request.is_secure() else "ws"
            links["websocket"] = f"{scheme}://{request.get_host()}/api/ws/jobs?job_id={job.id}"
        return links


class JobCreateSerializer(serializers.Serializer):
    """The envelope of `POST /api/jobs`; the kind's own serializer checks `params`."""

    type = serializers.ChoiceField(choices=sorted(kinds.KINDS))
    params = serializers.DictField(required=False, default=dict)


class JobListFilter(serializers.Serializer):
    status = serializers.ChoiceField(choices=JobStatus.values, required=False)
    type = serializers.ChoiceField(choices=sorted(kinds.KINDS), required=False)


class RandomTextBodySerializer(serializers.Serializer):
    length = serializers.IntegerField(required=False, help_text="words (default 100); `?length=` wins")


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
