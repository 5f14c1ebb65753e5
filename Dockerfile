# 3.12, not 3.11: Python 3.11's asyncio.wait_for can swallow a cancellation (cpython#86296),
# which redis-py wraps around every command; a WebSocket consumer whose client left could
# then go on reading for seconds. Bespin runs on 3.11 too (make dev, the tests), without it.
FROM python:3.12-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
# What runs Bespin, from its lock: nothing for tests or benchmarks.
COPY requirements.lock .
RUN pip install --no-cache-dir --require-hashes -r requirements.lock
COPY . .
RUN SECRET_KEY=collectstatic-only python manage.py collectstatic --noinput -v0
# Bespin writes nothing to its own files: it runs as a user that cannot change them.
RUN useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin bespin
USER 10001
EXPOSE 8000
ENV HOST=0.0.0.0
CMD ["sh", "-c", "python manage.py migrate --noinput && ./run.sh serve"]
