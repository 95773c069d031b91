"""What the runyard-monitoring chart renders: Grafana with datasources and dashboards, Prometheus, Loki, Alloy."""

from __future__ import annotations

import json
from collections.abc import Callable

import yaml

from tests.helm.conftest import NAMESPACE, RELEASE, Chart, container, env_of

Render = Callable[..., Chart]
PREFIX = f"{RELEASE}-runyard-monitoring"
CHART = "runyard-monitoring"


def test_defaults_deploy_grafana_prometheus_loki_and_the_log_shipper_without_persistence(render: Render) -> None:
    chart = render("defaults", chart=CHART)
    assert sorted(chart.names("Deployment")) == [f"{PREFIX}-grafana", f"{PREFIX}-loki", f"{PREFIX}-prometheus"]
    assert chart.names("DaemonSet") == [f"{PREFIX}-log-shipper"]
    assert chart.all("PersistentVolumeClaim") == []
    assert chart.all("Ingress") == []
    grafana = chart.get("Deployment", f"{PREFIX}-grafana")
    data = {v["name"]: v for v in grafana["spec"]["template"]["spec"]["volumes"]}["data"]
    assert data == {"name": "data", "emptyDir": {}}
    for workload in chart.all("Deployment") + chart.all("DaemonSet"):
        image = container(workload)["image"]
        assert ":" in image and not image.endswith(":latest"), image


def test_grafana_datasources_and_dashboards_are_provisioned(render: Render) -> None:
    chart = render("defaults", chart=CHART)
    provisioning = chart.get("ConfigMap", f"{PREFIX}-grafana")["data"]
    datasources = {d["uid"]: d for d in yaml.safe_load(provisioning["datasources.yaml"])["datasources"]}
    assert datasources["prometheus"]["url"] == f"http://{PREFIX}-prometheus.{NAMESPACE}.svc.cluster.local:9090"
    assert datasources["loki"]["url"] == f"http://{PREFIX}-loki.{NAMESPACE}.svc.cluster.local:3100"
    dashboards = chart.get("ConfigMap", f"{PREFIX}-grafana-dashboards")["data"]
    overview = json.loads(dashboards["runyard-overview.json"])
    titles = " | ".join(panel["title"] for panel in overview["panels"])
    for topic in ("requests", "latency", "Queue depth", "Jobs by state", "GPUs used per pool", "ingest rate"):
        assert topic in titles, topic
    queries = " ".join(t["expr"] for panel in overview["panels"] for t in panel["targets"])
    for metric in ("runyard_http_requests_total", "runyard_queue_depth", "runyard_jobs", "runyard_pool_gpus_used"):
        assert metric in queries
    logs = json.loads(dashboards["runyard-logs.json"])
    assert any(panel["type"] == "logs" for panel in logs["panels"])


def test_prometheus_and_log_shipper_watch_the_runyard_namespace(render: Render) -> None:
    chart = render("defaults", chart=CHART)
    config = yaml.safe_load(chart.get("ConfigMap", f"{PREFIX}-prometheus")["data"]["prometheus.yml"])
    job = config["scrape_configs"][0]
    assert job["kubernetes_sd_configs"][0]["namespaces"]["names"] == [NAMESPACE]
    assert job["relabel_configs"][0]["regex"] == "runyard"
    alloy = chart.get("ConfigMap", f"{PREFIX}-log-shipper")["data"]["config.alloy"]
    assert f'names = ["{NAMESPACE}"]' in alloy
    assert f'"http://{PREFIX}-loki.{NAMESPACE}.svc.cluster.local:3100/loki/api/v1/push"' in alloy
    shipper = chart.get("DaemonSet", f"{PREFIX}-log-shipper")
    assert shipper["spec"]["template"]["spec"]["tolerations"] == [{"operator": "Exists"}]
    mounts = {m["name"]: m for m in container(shipper)["volumeMounts"]}
    assert mounts["varlog"]["readOnly"] is True
    assert chart.get("Role", f"{PREFIX}-log-shipper")["metadata"]["namespace"] == NAMESPACE


def test_persistence_and_proxy_domain(render: Render) -> None:
    chart = render("persistence", chart=CHART)
    claims = {c["metadata"]["name"]: c for c in chart.all("PersistentVolumeClaim")}
    assert sorted(claims) == [f"{PREFIX}-grafana", f"{PREFIX}-loki", f"{PREFIX}-prometheus"]
    assert {c["spec"]["storageClassName"] for c in claims.values()} == {"fast-ssd"}
    grafana = chart.get("Deployment", f"{PREFIX}-grafana")
    env = env_of(grafana)
    assert env["GF_SERVER_ROOT_URL"]["value"] == "https://runyard.example.com/monitoring/"
    assert env["GF_SERVER_SERVE_FROM_SUB_PATH"]["value"] == "true"
    ingress = chart.get("Ingress", f"{PREFIX}-grafana")
    rule = ingress["spec"]["rules"][0]
    assert rule["host"] == "runyard.example.com"
    assert rule["http"]["paths"][0]["path"] == "/monitoring"
    assert ingress["spec"]["tls"][0]["secretName"] == "runyard-tls"
    assert chart.get("ClusterRole", f"{PREFIX}-log-shipper")
    admin = chart.get("Secret", f"{PREFIX}-grafana")["data"]
    assert "admin-password" in admin
    for configmap in chart.all("ConfigMap"):
        assert "not-a-real-password" not in yaml.safe_dump(configmap)


def test_external_datasources(render: Render) -> None:
    chart = render("external-datasources", chart=CHART)
    assert chart.names("Deployment") == [f"{PREFIX}-grafana"]
    provisioning = chart.get("ConfigMap", f"{PREFIX}-grafana")["data"]["datasources.yaml"]
    assert "http://prometheus-server.observability.svc:9090" in provisioning
    assert chart.all("Secret") == [], "admin credentials come from grafana.existingSecret"
    env = env_of(chart.get("Deployment", f"{PREFIX}-grafana"))
    assert env["GF_SECURITY_ADMIN_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
        "name": "grafana-admin",
        "key": "admin-password",
    }


def test_a_datasource_without_a_server_fails(render_error: Callable[..., str]) -> None:
    message = render_error("defaults", "prometheus.enabled=false", chart=CHART)
    assert "prometheus.enabled=false needs grafana.datasources.prometheusUrl" in message
