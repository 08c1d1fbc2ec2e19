# syntax=docker/dockerfile:1
# One image for the api, scheduler, dashboard and migrate services (docker-compose.yml).
# Build stage: a virtualenv with the CPU build of torch (an unpinned torch pulls a
# multi-GB CUDA build; the GPU override uses the CUDA wheel instead), then Verity.
FROM python:3.11-slim AS build
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/verity
WORKDIR /src
RUN /opt/verity/bin/pip install "torch==2.13.0" --index-url "$TORCH_INDEX"
COPY sdk sdk
RUN /opt/verity/bin/pip install ./sdk
COPY pyproject.toml README.md ./
COPY backend backend
COPY detectors detectors
COPY dashboard dashboard
COPY migrations migrations
COPY benchmarks benchmarks
COPY .streamlit .streamlit
RUN /opt/verity/bin/pip install ".[peers]"

# Run stage: the virtualenv and the app, as an unprivileged user.
FROM python:3.11-slim
RUN useradd --create-home --uid 10001 verity \
    && mkdir -p /data && chown verity:verity /data
COPY --from=build /opt/verity /opt/verity
COPY --from=build /src/.streamlit /app/.streamlit
COPY --from=build /src/dashboard /app/dashboard
WORKDIR /app
ENV PATH=/opt/verity/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    VERITY_DATA_DIR=/data
USER verity
EXPOSE 8000 8501
HEALTHCHECK --interval=10s --timeout=3s --retries=5 \
    CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz').status != 200)" || exit 1
CMD ["verity", "api", "--host", "0.0.0.0", "--port", "8000"]
