"""The deployment files agree with what the service needs.

No Docker engine runs in the test environment, so these tests read docker-compose.yml, the
Dockerfile and the CI workflow as data and check the contract between them and the app: which
image, which command, which environment, which start-up order, which health probes.
"""

import json
import shlex
from ipaddress import IPv4Address
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import yaml

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
CI_WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"
# 0.0.0.0: inside a container the server must listen on every interface to be reachable.
ALL_INTERFACES = str(IPv4Address(0))

type YamlMap = dict[str, object]


def as_mapping(value: object, where: str) -> YamlMap:
    assert isinstance(value, dict), f"{where} should be a mapping, got {value!r}"
    return {str(key): item for key, item in value.items()}


def as_strings(value: object, where: str) -> list[str]:
    """A command-like value (a string or a list of strings) as a list of words."""
    if isinstance(value, str):
        return shlex.split(value)
    assert isinstance(value, list), f"{where} should be a string or a list, got {value!r}"
    return [str(item) for item in value]


def load_yaml(path: Path) -> YamlMap:
    return as_mapping(yaml.safe_load(path.read_text(encoding="utf-8")), path.name)


# --- docker-compose.yml -------------------------------------------------------------------------


def compose_services() -> dict[str, YamlMap]:
    services = as_mapping(load_yaml(COMPOSE_FILE).get("services"), "services")
    return {name: as_mapping(spec, name) for name, spec in services.items()}


def environment(service: YamlMap, where: str) -> dict[str, str]:
    """`environment:` in either of its two Compose forms (mapping or list of KEY=VALUE)."""
    raw = service.get("environment", {})
    if isinstance(raw, list):
        pairs = (str(item).partition("=") for item in raw)
        return {key: value for key, _, value in pairs}
    return {key: str(value) for key, value in as_mapping(raw, f"{where}.environment").items()}


def dependency_conditions(service: YamlMap, where: str) -> dict[str, str]:
    depends_on = as_mapping(service.get("depends_on"), f"{where}.depends_on")
    return {
        name: str(as_mapping(spec, f"{where}.depends_on.{name}").get("condition"))
        for name, spec in depends_on.items()
    }


def published_container_ports(service: YamlMap) -> set[int]:
    ports: set[int] = set()
    raw = service.get("ports", [])
    assert isinstance(raw, list)
    for entry in raw:
        if isinstance(entry, dict):
            ports.add(int(entry["target"]))
        else:
            # [HOST_IP:][HOST_PORT:]CONTAINER_PORT[/PROTOCOL]
            ports.add(int(str(entry).rsplit(":", 1)[-1].split("/", 1)[0]))
    return ports


def healthcheck_text(service: YamlMap, where: str) -> str:
    healthcheck = as_mapping(service.get("healthcheck"), f"{where}.healthcheck")
    return " ".join(as_strings(healthcheck.get("test"), f"{where}.healthcheck.test"))


def replica_set_name(mongo: YamlMap) -> str:
    command = as_strings(mongo.get("command"), "mongo.command")
    assert "--replSet" in command, "mongo must run as a replica set (transactions need one)"
    return command[command.index("--replSet") + 1]


class TestDockerCompose:
    def test_declares_the_three_services(self) -> None:
        assert {"mongo", "migrate", "api"} <= compose_services().keys()

    def test_mongo_runs_mongodb_8_as_a_replica_set(self) -> None:
        mongo = compose_services()["mongo"]
        assert str(mongo.get("image")).startswith("mongo:8")
        assert replica_set_name(mongo) == "rs0"
        assert "--bind_ip_all" in as_strings(mongo.get("command"), "mongo.command")

    def test_mongo_healthcheck_initiates_the_replica_set(self) -> None:
        mongo = compose_services()["mongo"]
        text = healthcheck_text(mongo, "mongo")
        assert "mongosh" in text
        assert "rs.initiate" in text
        assert f"_id: '{replica_set_name(mongo)}'" in text
        healthcheck = as_mapping(mongo["healthcheck"], "mongo.healthcheck")
        assert {"interval", "timeout", "retries", "start_period"} <= healthcheck.keys()

    def test_mongo_keeps_its_data_in_a_declared_named_volume(self) -> None:
        mongo = compose_services()["mongo"]
        volumes = mongo.get("volumes")
        assert isinstance(volumes, list)
        sources = {
            str(entry).split(":", 1)[0]
            for entry in volumes
            if str(entry).split(":", 1)[-1].startswith("/data/db")
        }
        assert sources, "mongo should mount a volume at /data/db"
        declared = as_mapping(load_yaml(COMPOSE_FILE).get("volumes"), "volumes")
        assert sources <= declared.keys(), "the /data/db volume should be a top-level named volume"

    def test_migrate_runs_once_after_mongo_is_healthy(self) -> None:
        migrate = compose_services()["migrate"]
        assert as_strings(migrate.get("command"), "migrate.command") == ["jbts", "migrate", "up"]
        assert dependency_conditions(migrate, "migrate") == {"mongo": "service_healthy"}
        # Quoted in YAML: an unquoted `no` would load as the boolean false.
        assert migrate.get("restart") == "no"

    def test_api_starts_after_migrations_succeed(self) -> None:
        api = compose_services()["api"]
        assert dependency_conditions(api, "api") == {
            "mongo": "service_healthy",
            "migrate": "service_completed_successfully",
        }

    def test_api_serves_on_port_8000_with_a_readiness_healthcheck(self) -> None:
        api = compose_services()["api"]
        command = as_strings(api.get("command"), "api.command")
        assert command[:2] == ["jbts", "serve"]
        assert command[command.index("--port") + 1] == "8000"
        assert command[command.index("--host") + 1] == ALL_INTERFACES
        assert 8000 in published_container_ports(api)
        text = healthcheck_text(api, "api")
        assert "/health/ready" in text
        assert "curl" not in text, "the slim image has no curl"

    def test_api_is_published_on_this_machine_only(self) -> None:
        # The compose stack is a local stack: exposing it is an explicit edit (see the comment).
        raw = compose_services()["api"].get("ports")
        assert isinstance(raw, list)
        for entry in raw:
            assert isinstance(entry, str), "use the short form HOST_IP:HOST_PORT:CONTAINER_PORT"
            assert entry.startswith("127.0.0.1:"), f"{entry!r} publishes on every interface"

    def test_app_services_require_api_keys(self) -> None:
        services = compose_services()
        for name in ("migrate", "api"):
            assert environment(services[name], name).get("JBTS_AUTH") == "required", name
        api_command = as_strings(services["api"].get("command"), "api.command")
        assert "--insecure" not in api_command

    def test_app_services_share_one_built_image(self) -> None:
        services = compose_services()
        migrate, api = services["migrate"], services["api"]
        assert migrate.get("image") == api.get("image")
        assert migrate.get("image"), "name the image so both services run the same build"
        assert "build" in migrate
        assert "build" in api

    def test_app_services_point_at_the_mongo_replica_set(self) -> None:
        services = compose_services()
        rs_name = replica_set_name(services["mongo"])
        for name in ("migrate", "api"):
            env = environment(services[name], name)
            uri = urlsplit(env["MONGODB_URI"])
            assert uri.scheme == "mongodb"
            assert uri.hostname == "mongo", f"{name} should reach the mongo service by name"
            assert parse_qs(uri.query).get("replicaSet") == [rs_name]
            assert env.get("MONGODB_DB") == "jbtestsuite"


# --- Dockerfile ---------------------------------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with comments dropped and continuation lines joined."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for line in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        keyword, _, arguments = (pending + stripped).partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
        pending = ""
    assert not pending, "the Dockerfile ends inside a continued line"
    return instructions


def final_stage() -> list[tuple[str, str]]:
    instructions = dockerfile_instructions()
    starts = [index for index, (keyword, _) in enumerate(instructions) if keyword == "FROM"]
    assert starts, "the Dockerfile has no FROM"
    return instructions[starts[-1] :]


class TestDockerfile:
    def test_every_stage_builds_on_python_3_13_slim(self) -> None:
        bases = [
            args.split()[0] for keyword, args in dockerfile_instructions() if keyword == "FROM"
        ]
        assert bases
        assert all(base == "python:3.13-slim" for base in bases), bases

    def test_installs_the_pinned_uv_and_syncs_from_the_lock_file(self) -> None:
        runs = [args for keyword, args in dockerfile_instructions() if keyword == "RUN"]
        assert any("uv==0.13.9" in run for run in runs)
        syncs = [run for run in runs if "uv sync" in run]
        assert syncs
        assert all("--locked" in run and "--no-dev" in run for run in syncs)

    def test_final_stage_carries_no_build_tooling(self) -> None:
        runs = [args for keyword, args in final_stage() if keyword == "RUN"]
        assert not any("pip install" in run or "uv " in run for run in runs)

    def test_runs_as_a_non_root_user(self) -> None:
        stage = final_stage()
        keywords = [keyword for keyword, _ in stage]
        assert "CMD" in keywords
        cmd_at = keywords.index("CMD")
        users = [args for keyword, args in stage[:cmd_at] if keyword == "USER"]
        assert users, "switch to a non-root USER before CMD"
        user = users[-1].split(":", 1)[0]
        assert user not in {"root", "0"}

    def test_serves_on_port_8000_by_default(self) -> None:
        stage = final_stage()
        assert ("EXPOSE", "8000") in stage
        cmd = [args for keyword, args in stage if keyword == "CMD"][-1]
        assert json.loads(cmd) == ["jbts", "serve", "--host", ALL_INTERFACES, "--port", "8000"]

    def test_requires_api_keys_by_default(self) -> None:
        env = " ".join(args for keyword, args in final_stage() if keyword == "ENV")
        assert "JBTS_AUTH=required" in env
        cmd = [args for keyword, args in final_stage() if keyword == "CMD"][-1]
        assert "--insecure" not in json.loads(cmd)

    def test_python_settings_for_containers(self) -> None:
        env = " ".join(args for keyword, args in final_stage() if keyword == "ENV")
        assert "PYTHONDONTWRITEBYTECODE=1" in env
        assert "PYTHONUNBUFFERED=1" in env


class TestDockerignore:
    def test_keeps_local_state_out_of_the_build_context(self) -> None:
        patterns = {
            line.strip()
            for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.startswith("#")
        }
        assert {".git", ".venv", ".tools", "**/__pycache__"} <= patterns


# --- .github/workflows/ci.yml -------------------------------------------------------------------


def workflow() -> YamlMap:
    document = load_yaml(CI_WORKFLOW)
    # YAML 1.1 reads a bare `on` key as the boolean true.
    if "True" in document:
        document["on"] = document.pop("True")
    return document


def jobs() -> dict[str, YamlMap]:
    raw = as_mapping(workflow().get("jobs"), "jobs")
    return {name: as_mapping(job, name) for name, job in raw.items()}


def steps(job: YamlMap, where: str) -> list[YamlMap]:
    raw = job.get("steps")
    assert isinstance(raw, list), f"{where} has no steps"
    return [as_mapping(step, f"{where} step") for step in raw]


def step_environment(job: YamlMap, step: YamlMap, where: str) -> dict[str, str]:
    """What a step sees: workflow env, overridden by job env, overridden by step env."""
    merged: dict[str, str] = {}
    for scope in (workflow(), job, step):
        merged.update(
            {key: str(value) for key, value in as_mapping(scope.get("env", {}), where).items()}
        )
    return merged


def mongo_jobs() -> dict[str, YamlMap]:
    found: dict[str, YamlMap] = {}
    for name, job in jobs().items():
        services = as_mapping(job.get("services", {}), f"{name}.services")
        for service in services.values():
            if str(as_mapping(service, f"{name} service").get("image")).startswith("mongo:8"):
                found[name] = job
    return found


def replica_set_jobs() -> dict[str, tuple[YamlMap, str]]:
    """Jobs that start mongo:8 as a replica set themselves: name -> (job, replica set name)."""
    found: dict[str, tuple[YamlMap, str]] = {}
    for name, job in jobs().items():
        for step in steps(job, name):
            for line in str(step.get("run", "")).splitlines():
                words = shlex.split(line) if line.strip().startswith("docker run") else []
                if "mongo:8" in words and "--replSet" in words:
                    found[name] = (job, words[words.index("--replSet") + 1])
    return found


def dev_test_environments(job: YamlMap, where: str) -> list[dict[str, str]]:
    """The environment of each step that runs the test command."""
    return [
        step_environment(job, step, where)
        for step in steps(job, where)
        if "./dev test" in str(step.get("run", ""))
    ]


class TestCiWorkflow:
    def test_runs_on_push_and_pull_request(self) -> None:
        triggers = workflow()["on"]
        names = set(as_mapping(triggers, "on")) if isinstance(triggers, dict) else triggers
        assert isinstance(names, (set, list))
        assert {"push", "pull_request"} <= set(names)

    def test_has_a_job_with_a_mongodb_8_service(self) -> None:
        assert mongo_jobs(), "a job should run a mongo:8 service container"

    def test_runs_the_dev_test_command_against_that_mongodb(self) -> None:
        environments = [
            env for name, job in mongo_jobs().items() for env in dev_test_environments(job, name)
        ]
        assert environments, "a job with a mongo:8 service should run ./dev test"
        for env in environments:
            assert "MONGODB_URI" in env, "./dev test should run against the mongo:8 service"
            uri = urlsplit(env["MONGODB_URI"])
            assert uri.scheme == "mongodb"
            assert uri.hostname in {"localhost", "127.0.0.1"}
            assert env.get("CI") == "true"

    def test_has_a_job_running_mongodb_8_as_a_replica_set(self) -> None:
        # As docker compose runs it: transactions and change streams are exercised in CI too.
        found = replica_set_jobs()
        assert found, "a job should start mongo:8 with --replSet"
        for name, (job, set_name) in found.items():
            runs = [str(step.get("run", "")) for step in steps(job, name)]
            starts = next(i for i, run in enumerate(runs) if "--replSet" in run)
            assert "rs.initiate" in runs[starts], f"{name} should initiate the replica set"
            assert f"_id: '{set_name}'" in runs[starts]
            assert "isWritablePrimary" in runs[starts], f"{name} should wait for a primary"
            assert any("./dev test" in run for run in runs[starts + 1 :]), "then run the tests"
            environments = dev_test_environments(job, name)
            assert environments, f"{name} should run ./dev test"
            for env in environments:
                uri = urlsplit(env["MONGODB_URI"])
                assert uri.hostname in {"localhost", "127.0.0.1"}
                assert parse_qs(uri.query).get("replicaSet") == [set_name]
                assert env.get("CI") == "true"

    def test_every_job_uses_the_projects_python(self) -> None:
        for name, job in jobs().items():
            uses = {str(step.get("uses", "")).split("@")[0]: step for step in steps(job, name)}
            assert "actions/checkout" in uses
            setup = uses.get("actions/setup-python")
            assert setup is not None, f"{name} should set up Python"
            with_ = as_mapping(setup.get("with"), f"{name} setup-python")
            assert with_.get("python-version-file") == ".python-version"
