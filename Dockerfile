FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
RUN SECRET_KEY=collectstatic-only python manage.py collectstatic --noinput -v0
EXPOSE 8000
ENV HOST=0.0.0.0
CMD ["sh", "-c", "python manage.py migrate --noinput && ./run.sh serve"]
