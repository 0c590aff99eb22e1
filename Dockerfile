# llm-dlp forward proxy. Build: docker build -t llm-dlp .
# Run:   docker run -p 8080:8080 -v llm-dlp-certs:/data/certs -v llm-dlp-audit:/data/audit llm-dlp
# The CA is generated into /data/certs on first start; clients trust /data/certs/mitmproxy-ca-cert.pem.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1

RUN useradd --create-home --uid 10001 llmdlp \
 && mkdir -p /data/certs /data/audit /data/index \
 && chown -R llmdlp:llmdlp /data

WORKDIR /app
# Every installed version, the build backend included, comes from the same lock as CI's.
COPY requirements/run.txt ./requirements/run.txt
RUN pip install --require-hashes -r requirements/run.txt
COPY pyproject.toml README.md LICENSE ./
COPY llm_dlp ./llm_dlp
COPY addons ./addons
COPY detectors ./detectors
RUN pip install --no-deps --no-build-isolation --no-index .
COPY policies ./policies

USER llmdlp
VOLUME ["/data/certs", "/data/audit"]
EXPOSE 8080

ENTRYPOINT ["llm-dlp", "run", "--listen-host", "0.0.0.0", "--listen-port", "8080", \
            "--policy-dir", "/app/policies", "--confdir", "/data/certs", \
            "--audit-log", "/data/audit/llm-dlp-audit.jsonl", "--index-dir", "/data/index"]
