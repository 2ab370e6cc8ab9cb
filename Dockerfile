# One image for every Python part of LoyalNest (subgraphs, worker, migrations); the command
# picks the part. Build: docker build -t loyalnest .
FROM python:3.12-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY db ./db
COPY subgraphs ./subgraphs
COPY gateway/__init__.py cli/main.py cli/compose.py cli/embedded.py cli/seed.py cli/stack.py worker/settings.py ./gateway/
COPY gateway/auth ./gateway/auth
RUN pip install --no-cache-dir . && useradd --system loyalnest
USER loyalnest
ENV LOYALNEST_ENV=production LOYALNEST_HOST=0.0.0.0
ENTRYPOINT ["loyalnest"]
