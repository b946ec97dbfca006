# The minutes image: workers, beat, the HTTP hook and Flower all run from it.
FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1
WORKDIR /app
COPY pyproject.toml README.md alembic.ini celeryconfig.py ./
COPY pipeline pipeline
COPY repositories repositories
COPY integrations integrations
COPY migrations migrations
RUN pip install --no-cache-dir . \
    # The diarizer's voice encoder weights; their declared torch is not needed (see Makefile).
    && pip install --no-cache-dir --no-deps 'resemblyzer>=0.1.4'
USER nobody
CMD ["minutes", "worker"]
