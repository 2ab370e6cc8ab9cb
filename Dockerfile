# One image for every Python part of LoyalNest: the four subgraphs and the edge app
# (`loyalnest serve NAME`), the worker (`loyalnest worker`) and the migrations
# (`loyalnest migrate`); compose.yaml's command picks the part. The router has its own image
# (gateway/router/Dockerfile). Build from the repository root: docker build -t loyalnest .
#
# Whole packages are copied, never single modules, so a module added to a package ships
# without touching this file. tests/test_image.py rebuilds this file set from the COPY lines
# and imports every entry point the image runs from it.
FROM python:3.12-slim
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY db ./db
COPY subgraphs ./subgraphs
# gateway/ without router/ (Node; its own image): the package marker and the edge app.
COPY gateway/__init__.py ./gateway/
COPY gateway/edge ./gateway/edge
COPY cli ./cli
COPY worker ./worker
# Editable, so the code that runs is this tree under /app (the one tests/test_image.py
# checks), not a second copy in site-packages. Compiled here because the service user cannot
# write __pycache__ into /app.
RUN pip install -e . \
    && python -m compileall -q db subgraphs gateway cli worker \
    && useradd --system --no-create-home loyalnest
USER loyalnest
ENV LOYALNEST_ENV=production LOYALNEST_HOST=0.0.0.0
ENTRYPOINT ["loyalnest"]
