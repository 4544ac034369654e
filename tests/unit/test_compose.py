"""docker-compose.yml is consistent with the repo: images or Dockerfiles, mounted files,
dependencies, ports, the Prometheus config it mounts, and the `salespulse` commands it runs.
(There is no Docker engine in CI, so this is what can be checked without one.)"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import click
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
WORKER_PORT = 6066
METRICS_PORT = 9464


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


def bind_mounts(service: dict) -> list[tuple[str, str]]:
    """(host path, container path) of every bind mount, short or long syntax."""
    mounts = []
    for v in service.get("volumes", []):
        if isinstance(v, str):
            parts = v.split(":")
            if len(parts) >= 2 and parts[0].startswith((".", "/", "~")):
                mounts.append((parts[0], parts[1]))
        elif v.get("type") == "bind":
            mounts.append((v["source"], v["target"]))
    return mounts


def named_volumes(service: dict) -> list[str]:
    names = []
    for v in service.get("volumes", []):
        if isinstance(v, str):
            src = v.split(":")[0]
            if ":" in v and not src.startswith((".", "/", "~")):
                names.append(src)
        elif v.get("type") == "volume":
            names.append(v["source"])
    return names


def command_argv(service: dict) -> list[str]:
    cmd = service.get("command") or []
    return cmd.split() if isinstance(cmd, str) else [str(c) for c in cmd]


def host_path(container_path: str, service: dict) -> Path | None:
    """Where a file the container sees under a bind mount lives in the repo."""
    for host, target in bind_mounts(service):
        if container_path == target or container_path.startswith(target.rstrip("/") + "/"):
            return (ROOT / host).resolve() / container_path[len(target):].lstrip("/")
    return None


def test_every_service_has_an_image_or_a_dockerfile(services):
    for name, svc in services.items():
        assert "image" in svc or "build" in svc, f"service {name} has neither image nor build"
        if "build" in svc:
            build = svc["build"] if isinstance(svc["build"], dict) else {"context": svc["build"]}
            context = ROOT / build.get("context", ".")
            dockerfile = context / build.get("dockerfile", "Dockerfile")
            assert dockerfile.is_file(), f"service {name}: {dockerfile} does not exist"
        else:
            assert re.fullmatch(r"[\w./-]+:[\w.-]+", svc["image"]), f"service {name}: pin the image tag ({svc['image']})"


def test_dockerfile_installs_the_package_and_its_sources_exist():
    text = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim", text, re.M)
    assert "pip install ." in text
    for src in re.findall(r"^COPY\s+(\S+)\s", text, re.M):
        assert (ROOT / src).exists(), f"Dockerfile copies {src}, which does not exist"


def test_bind_mounted_host_paths_exist_and_named_volumes_are_declared(compose, services):
    declared = set(compose.get("volumes") or {})
    for name, svc in services.items():
        for host, _ in bind_mounts(svc):
            assert (ROOT / host).exists(), f"service {name} mounts {host}, which is not in the repo"
        for vol in named_volumes(svc):
            assert vol in declared, f"service {name} uses volume {vol!r}, not declared under volumes:"


def test_depends_on_targets_exist_with_valid_conditions(services):
    conditions = {"service_started", "service_healthy", "service_completed_successfully"}
    for name, svc in services.items():
        deps = svc.get("depends_on", [])
        items = deps.items() if isinstance(deps, dict) else ((d, {}) for d in deps)
        for target, spec in items:
            assert target in services, f"service {name} depends on unknown service {target!r}"
            cond = spec.get("condition", "service_started")
            assert cond in conditions, f"service {name}: bad condition {cond!r}"
            if cond == "service_healthy":
                assert "healthcheck" in services[target], f"{name} waits for {target} to be healthy; it has no healthcheck"


def test_port_mappings_are_well_formed(services):
    pattern = re.compile(r"^(?:(?:\d{1,3}\.){3}\d{1,3}:)?(?:(\d+):)?(\d+)(?:/(?:tcp|udp))?$")
    seen: dict[str, str] = {}
    for name, svc in services.items():
        for p in svc.get("ports", []):
            assert isinstance(p, str), f"service {name}: quote port mappings ({p!r}): YAML reads 60:60 as a number"
            m = pattern.match(p)
            assert m, f"service {name}: malformed port mapping {p!r}"
            for num in filter(None, m.groups()):
                assert 1 <= int(num) <= 65535, f"service {name}: port out of range in {p!r}"
            if m.group(1):
                assert m.group(1) not in seen, f"host port {m.group(1)} published by {seen.get(m.group(1))} and {name}"
                seen[m.group(1)] = name


def test_worker_serves_on_the_port_prometheus_scrapes_and_checks_its_health(services):
    worker = services["worker"]
    argv = command_argv(worker)
    assert argv[argv.index("--web-port") + 1] == str(WORKER_PORT)
    assert argv[argv.index("--web-host") + 1] == "0.0.0.0"
    health = " ".join(worker["healthcheck"]["test"])
    assert f"localhost:{WORKER_PORT}/health/live" in health
    env = worker["environment"]
    assert env["SALESPULSE_WEB__METRICS_PORT"] == str(METRICS_PORT) and env["SALESPULSE_WEB__METRICS_HOST"] == "0.0.0.0"
    assert env["SALESPULSE_KAFKA__BROKER"] == "kafka://kafka:9092"
    assert env["SALESPULSE_DATABASE__URL"].startswith("postgresql+asyncpg://")
    assert "@postgres:5432/" in env["SALESPULSE_DATABASE__URL"]


def test_published_ports_bind_to_loopback_and_the_metrics_port_stays_unpublished(services):
    """Nothing answers on the host's other interfaces (a reverse proxy with TLS fronts the API); only
    Prometheus, on the compose network, reaches the worker's metrics."""
    for name, svc in services.items():
        for p in svc.get("ports", []):
            assert p.startswith("127.0.0.1:"), f"service {name} publishes {p!r} on every interface"
    worker_ports = [p.rsplit(":", 1)[1] for p in services["worker"].get("ports", [])]
    assert worker_ports == [str(WORKER_PORT)], worker_ports


def prometheus_config(services) -> tuple[Path, dict]:
    svc = next(s for s in services.values() if s.get("image", "").startswith("prom/prometheus"))
    flag = next((c for c in command_argv(svc) if c.startswith("--config.file=")),
                "--config.file=/etc/prometheus/prometheus.yml")
    path = host_path(flag.split("=", 1)[1], svc)
    assert path is not None and path.is_file(), f"the Prometheus config {flag} is not mounted from the repo"
    return path, yaml.safe_load(path.read_text())


def test_prometheus_config_parses_and_scrapes_the_worker(services):
    path, config = prometheus_config(services)
    jobs = {j["job_name"]: j for j in config["scrape_configs"]}
    assert "salespulse" in jobs
    job = jobs["salespulse"]
    assert job.get("metrics_path", "/metrics") == "/metrics"
    targets = [t for sc in job["static_configs"] for t in sc["targets"]]
    assert f"worker:{METRICS_PORT}" in targets  # the metrics listener; the API port answers /metrics with 404
    for rule_file in config.get("rule_files", []):
        rules = yaml.safe_load((path.parent / rule_file).read_text())
        alerts = {r["alert"]: r for g in rules["groups"] for r in g["rules"] if "alert" in r}
        if "SalesPulseWorkerDown" in alerts:
            assert alerts["SalesPulseWorkerDown"]["expr"].replace(" ", "") == 'up{job="salespulse"}==0'


def test_grafana_provisioning_points_at_prometheus_and_the_dashboards_folder(services):
    svc = services["grafana"]
    ds_dir = host_path("/etc/grafana/provisioning/datasources", svc)
    sources = [d for f in sorted(ds_dir.glob("*.y*ml")) for d in yaml.safe_load(f.read_text())["datasources"]]
    assert any(d["type"] == "prometheus" and d["url"] == "http://prometheus:9090" for d in sources)
    prov_dir = host_path("/etc/grafana/provisioning/dashboards", svc)
    providers = [p for f in sorted(prov_dir.glob("*.y*ml")) for p in yaml.safe_load(f.read_text())["providers"]]
    for p in providers:
        local = host_path(p["options"]["path"], svc)
        assert local is not None and local.is_dir(), f"dashboards path {p['options']['path']} is not mounted"


def cli_commands_used(services) -> list[tuple[str, list[str]]]:
    return [(name, command_argv(svc)[1:]) for name, svc in services.items()
            if command_argv(svc)[:1] == ["salespulse"]]


def resolve(args: list[str]) -> tuple[click.Command, list[str], list[str]]:
    """Walk the click groups along `args`: (leaf command, command path, remaining args);
    raises LookupError naming the first missing command."""
    from agents.cli.main import cli

    cmd: click.Command = cli
    path: list[str] = []
    rest = list(args)
    while isinstance(cmd, click.Group) and rest and not rest[0].startswith("-"):
        name = rest.pop(0)
        sub = cmd.get_command(click.Context(cmd), name)
        if sub is None:
            raise LookupError(f"`salespulse {' '.join(path + [name])}` does not exist in agents.cli")
        cmd, path = sub, path + [name]
    return cmd, path, rest


def test_every_salespulse_command_in_compose_exists():
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    used = cli_commands_used(services)
    assert used, "no service runs a `salespulse` command"
    missing = []
    for name, args in used:
        try:
            cmd, path, _ = resolve(args)
        except LookupError as exc:
            missing.append(f"service {name}: {exc}")
            continue
        assert not isinstance(cmd, click.Group), f"service {name}: `salespulse {' '.join(path)}` is a group, not a command"
    assert not missing, "\n".join(missing)


def test_options_used_in_compose_exist_on_their_commands(services):
    for name, args in cli_commands_used(services):
        try:
            cmd, path, rest = resolve(args)
        except LookupError as exc:
            pytest.fail(f"service {name}: {exc}")
        known = {opt for p in cmd.params for opt in getattr(p, "opts", []) + getattr(p, "secondary_opts", [])}
        for tok in rest:
            if tok.startswith("-"):
                assert tok.split("=")[0] in known, f"service {name}: `salespulse {' '.join(path)}` has no option {tok}"


def test_promtool_accepts_the_prometheus_config(services):
    promtool = shutil.which("promtool")
    if promtool is None:
        if os.environ.get("CI") == "true":
            pytest.fail("promtool is not on PATH; .ci/run must install Debian's prometheus package")
        pytest.skip("promtool is not on PATH (apt-get install prometheus); CI=true makes this a failure")
    path, _ = prometheus_config(services)
    done = subprocess.run([promtool, "check", "config", str(path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout + done.stderr
