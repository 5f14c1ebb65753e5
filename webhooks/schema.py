"""`POST /api/webhooks/{key}` in the OpenAPI schema. Deliveries are answered by
webhooks.endpoint in front of Django, so no view declares them: postprocess adds it."""

from bespin.lib.schema import ERROR

_DELIVERED = {
    "type": "object",
    "required": ["id", "event", "job_id", "duplicate"],
    "properties": {
        "id": {"type": "string", "format": "uuid", "description": "the receipt (GET /api/webhooks/{key})"},
        "event": {"type": "string", "description": "the event, as the source's scheme reads it"},
        "job_id": {
            "type": "string",
            "format": "uuid",
            "nullable": True,
            "description": "the job a trigger started, if one matched",
        },
        "duplicate": {"type": "boolean", "description": "true: a redelivery of a stored delivery id"},
    },
}

# Which of them a delivery must carry depends on its source's scheme (docs/webhooks.md).
_SIGNATURE_HEADERS = {
    "X-Webhook-Signature": "bespin scheme: hex HMAC-SHA256, optionally `sha256=`",
    "X-Webhook-Timestamp": "bespin scheme: unix seconds, signed with the body when sent",
    "X-Webhook-Event": "bespin scheme: the event when the body has no `event`",
    "X-Hub-Signature-256": "github scheme: `sha256=<hex>`",
    "X-GitHub-Event": "github scheme: the event",
    "X-GitHub-Delivery": "github scheme: the delivery id",
    "Stripe-Signature": "stripe scheme: `t=<unix>,v1=<hex>`",
    "webhook-id": "standard scheme: the delivery id",
    "webhook-timestamp": "standard scheme: unix seconds",
    "webhook-signature": "standard scheme: `v1,<base64>`, space-separated",
}


def _error(description: str, **extra) -> dict:
    return {"description": description, "content": {"application/json": {"schema": ERROR}}, **extra}


_RETRY_AFTER = {"Retry-After": {"schema": {"type": "integer", "minimum": 0}, "required": True}}
_TO_RECEIPT = {
    "receipt": {"operationId": "webhooks_retrieve", "parameters": {"key": "$response.body#/id"}},
    "job": {"operationId": "jobs_retrieve", "parameters": {"job_id": "$response.body#/job_id"}},
}


def delivery_operation() -> dict:
    return {
        "operationId": "webhooks_deliver",
        "summary": "Receive a signed webhook delivery",
        "description": "The raw body is verified against every active secret of the source before it is parsed, "
        "then stored once per delivery id as a receipt; a trigger matching its event starts a job. The "
        "signature headers to send depend on the source's scheme.",
        "tags": ["webhooks"],
        # Signed with the source's secret, not authenticated as a user.
        "security": [],
        "parameters": [
            {"in": "path", "name": "key", "required": True, "schema": {"type": "string"}, "description": "the source"},
            *(
                {"in": "header", "name": name, "schema": {"type": "string"}, "description": description}
                for name, description in _SIGNATURE_HEADERS.items()
            ),
        ],
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"type": "object", "additionalProperties": True}}},
        },
        "responses": {
            "201": {
                "description": "a new delivery, stored",
                "content": {"application/json": {"schema": _DELIVERED}},
                "links": _TO_RECEIPT,
            },
            "200": {
                "description": "a redelivery: the first receipt, nothing stored",
                "content": {"application/json": {"schema": _DELIVERED}},
                "links": _TO_RECEIPT,
            },
            "400": _error("no signature header, or the body is not a JSON object PostgreSQL can store"),
            "401": _error("a malformed or wrong signature, a timestamp outside the tolerance, or no active secret"),
            "404": _error("no such source, or it is disabled"),
            "413": _error("the body is over BESPIN_WEBHOOK_MAX_BYTES"),
            "429": _error("over the source's rate, or too many unverified deliveries", headers=_RETRY_AFTER),
            "503": _error("the database is unavailable, or the server is shutting down"),
        },
    }


def postprocess(result, generator, request, public):
    """drf-spectacular's hook (SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"])."""
    result["paths"].setdefault("/api/webhooks/{key}", {})["post"] = delivery_operation()
    return result
