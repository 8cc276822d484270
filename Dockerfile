# GPU grading image: the production sandbox. Run one container per hand-in, e.g.
#   docker run --rm --network none --gpus '"device=0"' --memory 16g --pids-limit 512 \
#     -v /srv/stl10:/data/full:ro -v $PWD/hand-in:/hand-in:ro -v $PWD/out:/out \
#     rlgrade grade /hand-in -a w04_simclr --profile full --out /out --sandbox process
# Inside the container, `--sandbox process` is enough: the container hides the host;
# bubblewrap is installed too for defence in depth where the runtime allows namespaces.
FROM python:3.11-slim

RUN apt-get update \
    && apt-get install -y --no-install-recommends bubblewrap make \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/rlgrade
COPY requirements/ requirements/
RUN pip install --no-cache-dir -c requirements/constraints.txt torch torchvision
COPY pyproject.toml README.md ./
COPY autograder/ autograder/
RUN pip install --no-cache-dir -c requirements/constraints.txt -e .
COPY assignments/ assignments/
COPY reference/ reference/
COPY student_templates/ student_templates/

ENV RLGRADE_HOME=/opt/rlgrade \
    RLGRADE_DATA=/data \
    RLGRADE_CACHE=/opt/rlgrade/.rlgrade/cache \
    HF_HUB_OFFLINE=1
# the reference cache and tiny data are built at image build time, as root
RUN rlgrade data prepare --profile tiny && mkdir -p .rlgrade/cache && chmod 1777 .rlgrade/cache
USER 65534:65534
ENTRYPOINT ["rlgrade"]
