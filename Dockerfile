# Image for the worker and the simulator (docker-compose.yml); not used by make demo/test.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY haochaping haochaping
COPY producers producers
COPY streams streams
COPY sinks sinks
COPY cli cli
RUN pip install --no-cache-dir .
ENTRYPOINT ["hcp"]
CMD ["worker"]
