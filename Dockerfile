# The controller image: `docker build -t capi-ipam:dev .`
#
# Debian's Python with a virtualenv of the locked dependencies, running as uid 65532. The
# image is defined by this file and the files under image/: the Docker-free build of the
# harness (e2e/images.py, `make image-oci`) installs the same package lists, runs the same
# scripts and takes its environment, user and entrypoint from the final stage below.
ARG BASE=debian:bookworm-slim

# Build: the virtualenv, from the lock alone.
FROM ${BASE} AS build
COPY image/runtime-packages.txt image/build-packages.txt /image/
RUN apt-get update \
 && grep -hv '^#' /image/runtime-packages.txt /image/build-packages.txt \
    | xargs apt-get install -y --no-install-recommends \
 && rm -rf /var/lib/apt/lists/*
COPY image/requirements.txt image/venv.sh /image/
RUN sh /image/venv.sh /image/requirements.txt

# Run: Python, the virtualenv and the controller's source; no compiler, no pip, no shell
# needed (the entrypoint is exec'd, the probes are HTTP).
FROM ${BASE}
COPY image/runtime-packages.txt image/user.sh /image/
RUN apt-get update \
 && grep -hv '^#' /image/runtime-packages.txt \
    | xargs apt-get install -y --no-install-recommends \
 && rm -rf /var/lib/apt/lists/* \
 && sh /image/user.sh \
 && rm -rf /image
COPY --from=build /opt/venv /opt/venv
COPY ipam/ /opt/capi-ipam/ipam/
ENV PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PYTHONPATH=/opt/capi-ipam \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
USER 65532:65532
WORKDIR /
ENTRYPOINT ["python", "-m", "ipam"]
CMD ["run", "--all-namespaces"]
