"""What the runyard chart renders, asserted on the parsed manifests of the CI scenarios."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Callable
from typing import Any

import yaml

from runyard.settings import ServerSettings
from tests.helm.conftest import NAMESPACE, RELEASE, Chart, Manifest, container, env_of

Render = Callable[..., Chart]
RenderError = Callable[..., str]
Notes = Callable[..., str]

SERVER = f"{RELEASE}-runyard-server"
SERVER_URL = f"http://{SERVER}.{NAMESPACE}.svc.cluster.local:80"
COLLECTOR = f"{RELEASE}-runyard-otel-collector"
WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet", "Job", "Pod")


def workloads(chart: Chart) -> list[Manifest]:
    return [m for kind in WORKLOADS for m in chart.all(kind)]


def pod_spec(workload: Manifest) -> dict[str, Any]:
    spec: dict[str, Any] = workload["spec"] if workload["kind"] == "Pod" else workload["spec"]["template"]["spec"]
    return spec


def pool(chart: Chart, name: str) -> Manifest:
    return chart.get("Deployment", f"{RELEASE}-runyard-pool-{name}")


def configmap_data(chart: Chart) -> dict[str, str]:
    data: dict[str, str] = chart.get("ConfigMap", SERVER)["data"]
    return data


# --- defaults -------------------------------------------------------------------------------------------


def test_defaults_run_one_sqlite_server_with_redis_one_pool_and_the_collector(render: Render) -> None:
    chart = render("defaults")
    assert chart.names("Deployment") == sorted(
        [SERVER, f"{RELEASE}-runyard-pool-default", f"{RELEASE}-runyard-redis"], key=chart.names("Deployment").index
    )
    server = chart.get("Deployment", SERVER)
    assert server["spec"]["replicas"] == 1
    assert server["spec"]["strategy"]["type"] == "Recreate", "SQLite: the old pod must stop first"
    assert container(server)["args"] == ["server"]
    data = configmap_data(chart)
    assert data["RUNYARD_BACKEND_STORE_URI"] == "sqlite:////data/runyard.db"
    assert data["RUNYARD_MIGRATE_ON_START"] == "true"
    assert data["RUNYARD_HOST"] == "0.0.0.0"
    assert data["RUNYARD_PORT"] == "5050"
    assert data["RUNYARD_LOCAL_POOL"] == "false"
    assert json.loads(data["RUNYARD_POOLS"]) == [
        {"name": "default", "gpus_per_replica": 0, "queues": ["default"], "labels": {}}
    ]
    assert chart.all("Job") == [], "no migration Job with SQLite"
    claim = chart.get("PersistentVolumeClaim", f"{RELEASE}-runyard-data")
    assert claim["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    volumes = {v["name"]: v for v in pod_spec(server)["volumes"]}
    assert volumes["data"]["persistentVolumeClaim"]["claimName"] == f"{RELEASE}-runyard-data"
    assert len(chart.all("StatefulSet")) == 1 and chart.all("StatefulSet")[0]["spec"]["replicas"] == 2


def test_default_image_is_the_app_version_never_latest(render: Render) -> None:
    for workload in workloads(render("defaults")):
        for item in pod_spec(workload)["containers"]:
            assert not item["image"].endswith(":latest"), item["image"]
    server = render("defaults").get("Deployment", SERVER)
    assert container(server)["image"] == "ghcr.io/runyard/runyard:0.1.0"


def test_resource_names_fit_63_characters(render: Render, render_error: RenderError) -> None:
    chart = render("gpu-pools", f"fullnameOverride={'r' * 45}")
    for manifest in chart.manifests:
        assert len(manifest["metadata"]["name"]) <= 63, manifest["metadata"]["name"]
    # Past 63 characters names are cut; pools whose names would then collide are refused.
    message = render_error("gpu-pools", f"fullnameOverride={'r' * 58}")
    assert 'computePools "a100" and "cpu" both become' in message


def test_hpa_rules(render_error: RenderError) -> None:
    message = render_error(
        "production-postgresql",
        "server.autoscaling.hpa.targetCPU=",
        "server.autoscaling.hpa.targetMemory=",
        "server.autoscaling.hpa.minReplicas=9",
    )
    assert "hpa-needs-a-target" in message and "hpa-min-above-max" in message


# --- security -------------------------------------------------------------------------------------------


def test_every_pod_runs_non_root_read_only_without_privilege(render: Render) -> None:
    for scenario in ("defaults", "production-postgresql", "s3proxy", "gpu-pools"):
        for workload in workloads(render(scenario)):
            spec = pod_spec(workload)
            assert spec["securityContext"]["runAsNonRoot"] is True, workload["metadata"]["name"]
            assert spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
            for item in spec["containers"]:
                context = item["securityContext"]
                assert context["readOnlyRootFilesystem"] is True, (workload["metadata"]["name"], item["name"])
                assert context["allowPrivilegeEscalation"] is False
                assert context.get("privileged", False) is False
                assert context["capabilities"]["drop"] == ["ALL"]


def test_secrets_never_appear_in_configmaps(render: Render) -> None:
    chart = render("production-postgresql")
    secret_values = [
        "s3cr3t-Passw0rd",
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "ry-agent-token-for-tests",
        "replace_client_secret",
        "minio-secret-key",
    ]
    for configmap in chart.all("ConfigMap"):
        text = yaml.safe_dump(configmap)
        for value in secret_values:
            assert value not in text, f"{value} leaked into ConfigMap {configmap['metadata']['name']}"
    for workload in workloads(chart):
        for item in pod_spec(workload)["containers"]:
            for entry in item.get("env", []):
                assert entry.get("value") not in secret_values, (workload["metadata"]["name"], entry["name"])
    secret = chart.get("Secret", f"{RELEASE}-runyard-server")["stringData"]
    assert secret["dbPassword"] == "s3cr3t-Passw0rd"
    assert secret["agentToken"] == "ry-agent-token-for-tests"


def test_database_url_is_assembled_from_secret_references(render: Render) -> None:
    chart = render("production-postgresql")
    env = env_of(chart.get("Deployment", SERVER))
    assert env["RUNYARD_BACKEND_STORE_URI"]["value"] == (
        "postgresql://$(DATABASE_USERNAME):$(DATABASE_PASSWORD)@$(DATABASE_HOST)/$(DATABASE_NAME)?sslmode=require"
    )
    for name, key in (("DATABASE_PASSWORD", "dbPassword"), ("DATABASE_HOST", "dbHost")):
        ref = env[name]["valueFrom"]["secretKeyRef"]
        assert ref == {"name": f"{RELEASE}-runyard-server", "key": key}
    names = list(env)
    assert names.index("DATABASE_NAME") < names.index("RUNYARD_BACKEND_STORE_URI"), "$(VAR) needs earlier vars"
    assert env["AWS_SECRET_ACCESS_KEY"]["valueFrom"]["secretKeyRef"]["key"] == "secretAccessKey"
    assert env["RUNYARD_COOKIE_SECRET"]["valueFrom"]["secretKeyRef"]["key"] == "cookieSecret"
    assert configmap_data(chart)["RUNYARD_MIGRATE_ON_START"] == "false"


def test_mysql_with_renamed_secret_keys(render: Render) -> None:
    chart = render("mysql-custom-secret-keys")
    env = env_of(chart.get("Deployment", SERVER))
    assert env["RUNYARD_BACKEND_STORE_URI"]["value"].startswith("mysql://$(DATABASE_USERNAME):")
    assert env["DATABASE_PASSWORD"]["valueFrom"]["secretKeyRef"] == {"name": "mariadb-credentials", "key": "password"}
    assert env["DATABASE_HOST"]["valueFrom"]["secretKeyRef"]["key"] == "endpoint"
    job = chart.get("Job", f"{RELEASE}-runyard-migrate")
    assert env_of(job)["DATABASE_NAME"]["valueFrom"]["secretKeyRef"] == {
        "name": "mariadb-credentials",
        "key": "database",
    }
    # Renamed keys also name the keys of the Secrets the chart creates.
    created = render("production-postgresql", "secrets.existingSecretKeys.dbPassword=db-password")
    assert "db-password" in created.get("Secret", f"{RELEASE}-runyard-server")["stringData"]


def test_oidc_providers_become_a_toml_array(render: Render) -> None:
    secret = render("production-postgresql").get("Secret", f"{RELEASE}-runyard-server")["stringData"]
    providers = tomllib.loads(f"providers = {secret['oidcProviders']}")["providers"]
    assert providers == [
        {
            "name": "Google",
            "key": "google",
            "issuer_url": "https://accounts.google.com",
            "client_id": "replace_client_id",
            "client_secret": "replace_client_secret",
            "scopes": ["email", "profile"],
            "pkce": True,
            "allow_sign_up": True,
            "require_email_verified": True,
            "allowed_domains": ["example.com"],
        }
    ]


def test_existing_secrets_are_referenced_with_their_documented_keys(render: Render) -> None:
    chart = render("existing-secrets")
    assert [s["metadata"]["name"] for s in chart.all("Secret")] == [], "the chart creates no Secret"
    env = env_of(chart.get("Deployment", SERVER))
    refs = {name: e["valueFrom"]["secretKeyRef"] for name, e in env.items() if "valueFrom" in e}
    assert refs["DATABASE_USERNAME"] == {"name": "runyard-server", "key": "dbUsername"}
    assert refs["DATABASE_NAME"] == {"name": "runyard-server", "key": "dbName"}
    assert refs["RUNYARD_COOKIE_SECRET"] == {"name": "runyard-server", "key": "cookieSecret", "optional": True}
    assert refs["RUNYARD_OIDC_PROVIDERS"] == {"name": "runyard-server", "key": "oidcProviders", "optional": True}
    assert refs["AWS_ACCESS_KEY_ID"] == {"name": "runyard-storage", "key": "accessKeyId"}
    assert refs["RUNYARD_REDIS_URL"] == {"name": "runyard-redis", "key": "redisUrl"}
    agent = env_of(pool(chart, "default"))
    assert agent["RUNYARD_AGENT_TOKEN"]["valueFrom"]["secretKeyRef"]["name"] == "runyard-server"
    job = chart.get("Job", f"{RELEASE}-runyard-migrate")
    assert env_of(job)["DATABASE_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == "runyard-server"


def test_conflicting_secret_values_fail_naming_what_to_remove(render_error: RenderError) -> None:
    message = render_error("conflict-server-secret")
    assert "Remove: secrets.db.password, secrets.cookieSecret." in message
    assert "keys dbUsername, dbPassword, dbHost, dbName" in message
    assert "Remove: secrets.storage.accessKeyId" in render_error("conflict-storage-secret")
    assert "Remove redis.auth.username and redis.auth.password" in render_error("conflict-redis-secret-auth")


def test_all_violations_are_reported_at_once(render_error: RenderError) -> None:
    message = render_error("defaults", "secrets.cookieSecret=short", "server.replicaCount=2")
    assert "cookie-secret-too-short" in message
    assert "sqlite-single-replica" in message
    assert "artifacts-need-shared-store" in message


def test_postgresql_rules(render_error: RenderError) -> None:
    message = render_error("defaults", "database.type=postgresql")
    assert "set secrets.db.username, secrets.db.password, secrets.db.host, secrets.db.database" in message
    message = render_error("production-postgresql", "secrets.db.password=p@ss/word", "secrets.db.host=postgresql://db")
    assert "percent-encode it" in message
    assert "must be host or host:port" in message


def test_schema_rejects_unknown_keys_wrong_enums_and_latest(render_error: RenderError) -> None:
    assert "replicaCont" in render_error("defaults", "server.replicaCont=3")
    assert "/database/type" in render_error("defaults", "database.type=oracle")
    assert "/image/tag" in render_error("defaults", "image.tag=latest")
    assert "/computePools/0/name" in render_error("defaults", "computePools[0].name=Bad_Name")


def test_new_users_role_workspace_and_admins_reach_the_server(render: Render, render_error: RenderError) -> None:
    server = render("defaults").get("Deployment", SERVER)
    assert {"configMapRef": {"name": SERVER}} in container(server)["envFrom"]
    # Read-only by default (not admin), in the default workspace, no admins by email.
    defaults = configmap_data(render("defaults"))
    assert (defaults["RUNYARD_DEFAULT_ROLE"], defaults["RUNYARD_DEFAULT_WORKSPACE"]) == ("viewer", "default")
    assert "RUNYARD_ADMINS" not in defaults
    chosen = configmap_data(
        render(
            "defaults",
            "server.auth.defaultRole=editor",
            "server.auth.defaultWorkspace=team-a",
            "server.auth.admins={alice@example.com,bob@example.org}",
        )
    )
    assert chosen["RUNYARD_DEFAULT_ROLE"] == "editor"
    assert chosen["RUNYARD_DEFAULT_WORKSPACE"] == "team-a"
    assert chosen["RUNYARD_ADMINS"] == "alice@example.com,bob@example.org"
    # What the chart renders is what the server accepts.
    settings = ServerSettings(
        default_role=chosen["RUNYARD_DEFAULT_ROLE"],
        default_workspace=chosen["RUNYARD_DEFAULT_WORKSPACE"],
        admins=chosen["RUNYARD_ADMINS"],
    )
    assert settings.admin_emails == {"alice@example.com", "bob@example.org"}
    assert "/server/auth/defaultRole" in render_error("defaults", "server.auth.defaultRole=owner")
    assert "/server/auth/defaultWorkspace" in render_error("defaults", "server.auth.defaultWorkspace=Team_A")
    assert "/server/auth/admins/0" in render_error("defaults", "server.auth.admins={not-an-email}")


# --- migrations -----------------------------------------------------------------------------------------


def test_migration_job_is_an_idempotent_pre_install_and_pre_upgrade_hook(render: Render) -> None:
    chart = render("production-postgresql")
    job = chart.get("Job", f"{RELEASE}-runyard-migrate")
    annotations = job["metadata"]["annotations"]
    assert annotations["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert annotations["helm.sh/hook-delete-policy"] == "before-hook-creation,hook-succeeded"
    assert container(job)["args"] == ["db", "upgrade"]
    assert pod_spec(job)["restartPolicy"] == "Never"
    assert "serviceAccountName" not in pod_spec(job), "hooks run before the chart's ServiceAccount exists"
    hook_secret = chart.get("Secret", f"{RELEASE}-runyard-migrate")
    assert hook_secret["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert int(hook_secret["metadata"]["annotations"]["helm.sh/hook-weight"]) < int(annotations["helm.sh/hook-weight"])
    assert env_of(job)["DATABASE_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == f"{RELEASE}-runyard-migrate"


# --- server: probes, PDB, HPA, NetworkPolicy, metrics -------------------------------------------------------


def test_server_probes_and_prometheus_annotations(render: Render) -> None:
    server = render("defaults").get("Deployment", SERVER)
    item = container(server)
    assert item["startupProbe"]["httpGet"] == {"path": "/health", "port": "http"}
    assert item["livenessProbe"]["httpGet"] == {"path": "/health", "port": "http"}
    assert item["readinessProbe"]["httpGet"] == {"path": "/ready", "port": "http"}
    annotations = server["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "runyard"
    assert annotations["prometheus.io/port"] == "5050"
    assert annotations["prometheus.io/path"] == "/metrics"


def test_pdb_and_hpa(render: Render) -> None:
    assert render("defaults").get("PodDisruptionBudget", SERVER)["spec"]["maxUnavailable"] == 1
    chart = render("production-postgresql")
    assert chart.get("PodDisruptionBudget", SERVER)["spec"] == {
        "minAvailable": 2,
        "selector": chart.get("Deployment", SERVER)["spec"]["selector"],
    }
    hpa = chart.get("HorizontalPodAutoscaler", SERVER)
    assert hpa["spec"]["minReplicas"] == 3 and hpa["spec"]["maxReplicas"] == 8
    targets = {m["resource"]["name"]: m["resource"]["target"]["averageUtilization"] for m in hpa["spec"]["metrics"]}
    assert targets == {"cpu": 70, "memory": 80}
    assert "replicas" not in chart.get("Deployment", SERVER)["spec"], "the HPA owns the replica count"
    assert chart.get("Deployment", SERVER)["spec"]["strategy"]["type"] == "RollingUpdate"


def test_network_policy_open_by_default_and_restricted_on_request(render: Render) -> None:
    open_policy = render("defaults").get("NetworkPolicy", SERVER)["spec"]
    assert "from" not in open_policy["ingress"][0]
    assert open_policy["egress"] == [{}]
    chart = render("production-postgresql")
    policy = chart.get("NetworkPolicy", SERVER)["spec"]
    allowed = policy["ingress"][0]["from"][0]["podSelector"]["matchLabels"]
    assert allowed == {"app.kubernetes.io/instance": RELEASE, "runyard.dev/server-client": "true"}
    # The clients the policy admits carry the label: agents, the collector, the helm test Pod.
    labelled = [pool(chart, "default"), chart.all("StatefulSet")[0], chart.get("Pod", f"{RELEASE}-runyard-test-ready")]
    for workload in labelled:
        labels = (
            workload["metadata"]["labels"]
            if workload["kind"] == "Pod"
            else workload["spec"]["template"]["metadata"]["labels"]
        )
        assert labels["runyard.dev/server-client"] == "true"
    egress_ports = [p["port"] for rule in policy["egress"] for p in rule.get("ports", [])]
    assert 53 in egress_ports and 5432 in egress_ports and 4318 in egress_ports


def test_helm_test_hook_calls_ready(render: Render) -> None:
    pod = render("defaults").get("Pod", f"{RELEASE}-runyard-test-ready")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    script = container(pod)["command"][-1]
    assert f'"{SERVER_URL}/ready"' in script
    assert "urlopen" in script


# --- compute pools ----------------------------------------------------------------------------------------


def test_three_pools_with_their_node_selectors_and_gpu_limits(render: Render) -> None:
    chart = render("gpu-pools")
    cpu, a100, inference = pool(chart, "cpu"), pool(chart, "a100"), pool(chart, "inference")
    assert pod_spec(a100)["nodeSelector"] == {
        "cloud.google.com/gke-accelerator": "nvidia-tesla-a100",
        "cloud.google.com/gke-spot": "true",
    }
    assert pod_spec(inference)["nodeSelector"] == {
        "eks.amazonaws.com/nodegroup": "inference-nodes",
        "node.kubernetes.io/instance-type": "g5.12xlarge",
        "topology.kubernetes.io/zone": "us-east-1a",
    }
    assert container(a100)["resources"]["limits"]["nvidia.com/gpu"] == 8
    assert container(inference)["resources"]["limits"] == {"memory": "64Gi", "nvidia.com/gpu": 1}
    assert "nvidia.com/gpu" not in container(cpu)["resources"].get("limits", {})
    assert (a100["spec"]["replicas"], inference["spec"]["replicas"], cpu["spec"]["replicas"]) == (2, 3, 2)
    assert pod_spec(a100)["runtimeClassName"] == "nvidia"
    # Inherited from computeDefaults unless the pool sets the key.
    assert pod_spec(a100)["tolerations"] == [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
    assert "tolerations" not in pod_spec(cpu)
    shm = {v["name"]: v for v in pod_spec(a100)["volumes"]}["dshm"]
    assert shm["emptyDir"] == {"medium": "Memory", "sizeLimit": "16Gi"}
    assert container(inference)["image"] == "ghcr.io/runyard/runyard-cuda:0.1.0-cuda12"
    assert container(a100)["image"] == "ghcr.io/runyard/runyard:0.1.0"
    pools = json.loads(configmap_data(chart)["RUNYARD_POOLS"])
    assert pools == [
        {"name": "cpu", "gpus_per_replica": 0, "queues": ["default", "cpu"], "labels": {"cloud": "aws"}},
        {"name": "a100", "gpus_per_replica": 8, "queues": ["training"], "labels": {"gpu": "a100"}},
        {"name": "inference", "gpus_per_replica": 1, "queues": ["inference"], "labels": {"cloud": "aws"}},
    ]


def test_agents_run_against_the_in_cluster_server_with_sandbox_settings(render: Render) -> None:
    chart = render("gpu-pools")
    a100, cpu = pool(chart, "a100"), pool(chart, "cpu")
    assert container(a100)["args"] == ["agent", "--server", SERVER_URL, "--pool", "a100", "--gpus", "auto"]
    env = {name: e.get("value") for name, e in env_of(a100).items()}
    assert env["RUNYARD_AGENT_SERVER_URL"] == SERVER_URL
    assert env["RUNYARD_AGENT_POOL"] == "a100"
    assert env["RUNYARD_AGENT_GPUS"] == "auto"
    assert env["RUNYARD_AGENT_HEARTBEAT_FILE"] == "/tmp/runyard-agent/heartbeat"
    assert env_of(cpu)["RUNYARD_AGENT_GPUS"]["value"] == "none"
    assert env_of(cpu)["RUNYARD_AGENT_SLOTS"]["value"] == "4"
    assert {k: v for k, v in env.items() if k.startswith("RUNYARD_SANDBOX_")} == {
        "RUNYARD_SANDBOX_ISOLATION": "process",
        "RUNYARD_SANDBOX_NETWORK": "false",
        "RUNYARD_SANDBOX_ALLOW_PROCESS": "false",
        "RUNYARD_SANDBOX_MEMORY_LIMIT_MB": "16384",
        "RUNYARD_SANDBOX_CPU_SECONDS": "36000",
        "RUNYARD_SANDBOX_MAX_PROCESSES": "512",
        "RUNYARD_SANDBOX_MAX_FILE_SIZE_MB": "10240",
        "RUNYARD_SANDBOX_TIMEOUT_SECONDS": "86400",
    }
    assert "RUNYARD_AGENT_TOKEN" not in env, "no token configured, none referenced"
    assert "AWS_SECRET_ACCESS_KEY" not in env, "agents reach artifacts through the server"


def test_pools_build_job_environments_on_their_work_volume_with_their_own_settings(render: Render) -> None:
    chart = render("gpu-pools")
    inference, cpu = pool(chart, "inference"), pool(chart, "cpu")
    env = {name: e.get("value") for name, e in env_of(inference).items()}
    assert env["RUNYARD_AGENT_WORK_DIR"] == "/work"
    assert env["UV_CACHE_DIR"] == "/work/.cache/uv"
    assert {k: v for k, v in env.items() if k.startswith("RUNYARD_AGENT_ENV_")} == {
        "RUNYARD_AGENT_ENV_CACHE_MB": "40960",
        "RUNYARD_AGENT_ENV_INSTALL_TIMEOUT_SECONDS": "1800",
        "RUNYARD_AGENT_ENV_PYTHON": "/usr/local/bin/python3",
        "RUNYARD_AGENT_ENV_SYSTEM_SITE_PACKAGES": "true",
    }
    # A pool that sets nothing gets the defaults, and the image's own python.
    defaults = {name: e.get("value") for name, e in env_of(cpu).items() if name.startswith("RUNYARD_AGENT_ENV_")}
    assert defaults == {
        "RUNYARD_AGENT_ENV_CACHE_MB": "20480",
        "RUNYARD_AGENT_ENV_INSTALL_TIMEOUT_SECONDS": "1200",
        "RUNYARD_AGENT_ENV_SYSTEM_SITE_PACKAGES": "false",
    }
    mounts = {m["name"]: m["mountPath"] for m in container(inference)["volumeMounts"]}
    assert mounts["work"] == "/work"


def test_agent_probes_check_a_fresh_heartbeat_file(render: Render) -> None:
    agent = container(pool(render("defaults"), "default"))
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        command = agent[probe]["exec"]["command"]
        assert command[:2] == ["python", "-c"]
        assert "RUNYARD_AGENT_HEARTBEAT_FILE" in command[2] and "getmtime" in command[2] and "< 60" in command[2]
    assert "ports" not in agent, "the agent serves no port"


def test_the_heartbeat_probe_really_checks_freshness(render: Render, tmp_path: Any) -> None:
    import os
    import subprocess
    import sys
    import time

    check = container(pool(render("defaults"), "default"))["livenessProbe"]["exec"]["command"][2]
    heartbeat = tmp_path / "heartbeat"
    env = {**os.environ, "RUNYARD_AGENT_HEARTBEAT_FILE": str(heartbeat)}

    def probe() -> int:
        return subprocess.run([sys.executable, "-c", check], env=env, check=False).returncode

    assert probe() == 1, "missing file: not alive"
    heartbeat.touch()
    assert probe() == 0, "fresh heartbeat: alive"
    stale = time.time() - 120
    os.utime(heartbeat, (stale, stale))
    assert probe() == 1, "stale heartbeat: restart"


def test_duplicate_pool_names_fail(render_error: RenderError) -> None:
    message = render_error("defaults", "computePools[0].name=gpu", "computePools[1].name=gpu")
    assert 'computePools has two pools named "gpu"' in message


# --- OpenTelemetry --------------------------------------------------------------------------------------------


def test_otel_disabled_removes_the_collector_and_every_otel_variable(render: Render) -> None:
    chart = render("otel-disabled")
    assert not [m for m in chart.manifests if "otel" in m["metadata"]["name"]]
    for workload in workloads(chart):
        for item in pod_spec(workload)["containers"]:
            names = [e["name"] for e in item.get("env", [])]
            assert not [n for n in names if n.startswith("OTEL_")], workload["metadata"]["name"]


def test_otel_enabled_sets_endpoint_and_attributes_on_server_and_agents(render: Render) -> None:
    chart = render("otel-custom-exporters")
    expected = "deployment.environment.name=production,service.namespace=ml,deployment.region=us-east-1"
    for workload in (chart.get("Deployment", SERVER), pool(chart, "default")):
        env = env_of(workload)
        assert env["OTEL_EXPORTER_OTLP_ENDPOINT"]["value"] == f"http://{COLLECTOR}.{NAMESPACE}.svc.cluster.local:4318"
        assert env["OTEL_RESOURCE_ATTRIBUTES"]["value"] == expected
    default_env = env_of(render("defaults").get("Deployment", SERVER))
    assert default_env["OTEL_RESOURCE_ATTRIBUTES"]["value"] == f"deployment.environment.name={RELEASE}"


def test_collector_config_has_fixed_receivers_and_user_exporters(render: Render) -> None:
    chart = render("otel-custom-exporters")
    config = yaml.safe_load(chart.get("ConfigMap", COLLECTOR)["data"]["collector.yaml"])
    assert config["receivers"]["otlp"]["protocols"]["http"]["endpoint"] == "0.0.0.0:4318"
    scrape = config["receivers"]["prometheus"]["config"]["scrape_configs"][0]
    assert scrape["kubernetes_sd_configs"][0]["namespaces"]["names"] == [NAMESPACE]
    keep = scrape["relabel_configs"][0]
    assert keep == {
        "source_labels": ["__meta_kubernetes_pod_annotation_prometheus_io_scrape"],
        "action": "keep",
        "regex": "runyard",
    }
    targets = {tuple(r["source_labels"]): r for r in scrape["relabel_configs"]}
    assert targets[("__meta_kubernetes_pod_annotation_prometheus_io_path",)]["target_label"] == "__metrics_path__"
    assert "__meta_kubernetes_pod_annotation_prometheus_io_port" in str(targets)
    shard = targets[("__meta_kubernetes_pod_uid",)]
    assert shard["action"] == "hashmod" and shard["modulus"] == 3
    assert config["processors"]["memory_limiter"]["limit_mib"] == 800
    assert config["processors"]["memory_limiter"]["spike_limit_mib"] == 200
    assert "batch" in config["processors"]
    assert set(config["exporters"]) == {"otlphttp", "prometheusremotewrite"}
    assert config["service"]["pipelines"]["metrics"]["receivers"] == ["otlp", "prometheus"]
    assert config["service"]["pipelines"]["metrics"]["exporters"] == ["prometheusremotewrite"]
    statefulset = chart.get("StatefulSet", COLLECTOR)
    assert statefulset["spec"]["replicas"] == 3
    image = container(statefulset)["image"]
    assert image.startswith("ghcr.io/open-telemetry/opentelemetry-collector-releases/opentelemetry-collector-contrib:")
    assert not image.endswith(":latest")
    assert chart.get("PodDisruptionBudget", COLLECTOR)["spec"]["minAvailable"] == 1
    assert chart.get("Role", COLLECTOR)["rules"] == [
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}
    ]


# --- ingress, storage, Redis, tracking -------------------------------------------------------------------------


def test_ingress_with_tls(render: Render) -> None:
    ingress = render("ingress-tls").get("Ingress", SERVER)
    assert ingress["spec"]["ingressClassName"] == "nginx"
    assert ingress["spec"]["tls"] == [{"hosts": ["runyard.example.com"], "secretName": "runyard-tls"}]
    rule = ingress["spec"]["rules"][0]
    assert rule["host"] == "runyard.example.com"
    assert rule["http"]["paths"][0]["backend"]["service"] == {"name": SERVER, "port": {"name": "http"}}
    assert ingress["metadata"]["annotations"]["cert-manager.io/cluster-issuer"] == "letsencrypt-prod"


def test_s3proxy_fronts_azure_with_path_style(render: Render) -> None:
    chart = render("s3proxy")
    data = configmap_data(chart)
    assert data["AWS_ENDPOINT_URL"] == f"http://{RELEASE}-runyard-s3proxy.{NAMESPACE}.svc.cluster.local:8080"
    assert data["AWS_S3_ADDRESSING_STYLE"] == "path"
    assert data["RUNYARD_ARTIFACTS_DESTINATION"] == "s3://runyard-artifacts/artifacts"
    proxy = chart.get("Deployment", f"{RELEASE}-runyard-s3proxy")
    env = env_of(proxy)
    assert env["JCLOUDS_PROVIDER"]["value"] == "azureblob"
    assert env["JCLOUDS_IDENTITY"]["valueFrom"]["secretKeyRef"]["key"] == "storageAccountName"
    assert env["S3PROXY_CREDENTIAL"]["valueFrom"]["secretKeyRef"] == {
        "name": f"{RELEASE}-runyard-storage",
        "key": "secretAccessKey",
    }
    assert chart.get("Secret", f"{RELEASE}-runyard-s3proxy-azure")["stringData"]["storageAccountKey"] == (
        "azure-access-key"
    )


def test_s3_settings_for_minio(render: Render) -> None:
    data = configmap_data(render("production-postgresql"))
    assert data["AWS_ENDPOINT_URL"] == "http://minio.minio.svc:9000"
    assert data["AWS_DEFAULT_REGION"] == "us-east-1"
    assert data["AWS_S3_ADDRESSING_STYLE"] == "path"
    assert data["RUNYARD_REGISTRY_URI"] == "s3://runyard/registry"
    assert data["RUNYARD_EXTERNAL_MLFLOW_URI"] == "http://mlflow.mlflow.svc:5000"
    assert data["RUNYARD_ROOT_URL"] == "https://runyard.example.com"
    assert data["RUNYARD_AUTH_ENABLED"] == "true"


def test_redis_choices(render: Render) -> None:
    default_url = render("defaults").get("Secret", f"{RELEASE}-runyard-redis-url")["stringData"]["redisUrl"]
    assert default_url == f"redis://{RELEASE}-runyard-redis.{NAMESPACE}.svc.cluster.local:6379/0"
    external = render("external-redis")
    assert not external.component("Deployment", "redis")
    url = external.get("Secret", f"{RELEASE}-runyard-redis-url")["stringData"]["redisUrl"]
    assert url == "redis://runyard:redis-pass@redis.example.com:6379/2"
    authed = render("redis-auth")
    redis = authed.get("Deployment", f"{RELEASE}-runyard-redis")
    assert "--aclfile" in container(redis)["args"]
    acl = authed.get("Secret", f"{RELEASE}-runyard-redis-acl")["stringData"]["users.acl"]
    assert "user runyard on >redis-password" in acl and "user default off" in acl
    url = authed.get("Secret", f"{RELEASE}-runyard-redis-url")["stringData"]["redisUrl"]
    assert url.startswith("redis://runyard:redis-password@")
    assert pod_spec(redis)["nodeSelector"] == {"kubernetes.io/os": "linux"}
    assert env_of(redis)["TZ"]["value"] == "UTC"
    without = render("defaults", "redis.enabled=false", "redis.install.enabled=false")
    assert "RUNYARD_REDIS_URL" not in env_of(without.get("Deployment", SERVER))
    assert not without.component("Deployment", "redis")


# --- NOTES.txt -----------------------------------------------------------------------------------------------


def test_notes_warn_about_a_gpu_pool_without_placement(notes: Notes) -> None:
    text = notes("gpu-pool-unpinned")
    assert 'WARNING: compute pool "gpu" asks for 2 GPU(s)' in text
    assert "no nodeSelector and no" in text
    assert "WARNING: compute pool" not in notes("gpu-pools")


def test_notes_remind_that_root_url_must_match_the_ingress_host(notes: Notes) -> None:
    matching = notes("ingress-tls")
    assert "REMINDER: server.rootUrl must match the ingress host (runyard.example.com)" in matching
    assert "does not match" not in matching
    mismatched = notes("ingress-tls", "server.rootUrl=https://other.example.com")
    assert "does not match" in mismatched and "server.rootUrl=https://runyard.example.com" in mismatched
    assert "REMINDER" not in notes("defaults")


def test_notes_warn_when_the_network_policy_shuts_out_the_ingress(notes: Notes) -> None:
    text = notes("ingress-tls", "server.networkPolicy.allowExternal=false")
    assert "the ingress controller cannot reach the server" in text
    assert "cannot reach" not in notes("ingress-tls")


def test_notes_give_the_url_and_next_steps(notes: Notes) -> None:
    text = notes("defaults")
    assert f"port-forward svc/{SERVER} 5050:80" in text
    assert f"helm test {RELEASE}" in text
    assert f"MLFLOW_TRACKING_URI={SERVER_URL}" in text
    assert "SQLite" in text
