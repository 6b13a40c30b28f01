"""Issue 18: the Grafana dashboard and the Prometheus alert rules under deploy/ name only
metrics pgrelay exports, and promtool accepts (and unit-tests) the rules."""

import json
import os
import re
import subprocess
import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

import harness
from otlp_receiver import OTLPReceiver

pytestmark = [pytest.mark.issue18, pytest.mark.pgrelay_only("pgrelay's own metrics")]

DEPLOY = os.path.join(harness.REPO, "deploy")
RULES = os.path.join(DEPLOY, "prometheus", "pgrelay-alerts.yml")
RULE_TESTS = os.path.join(DEPLOY, "prometheus", "pgrelay-alerts.test.yml")
DASHBOARD = os.path.join(DEPLOY, "grafana", "pgrelay-dashboard.json")
METRIC = re.compile(r"\bpgrelay_[a-z0-9_]+")


def promtool(*args, cwd=None):
    binary = harness.required_tool("promtool", "prometheus")
    res = subprocess.run([binary, *args], capture_output=True, text=True, timeout=60, cwd=cwd)
    return res.returncode, res.stdout + res.stderr


def dashboard_expressions():
    """Every PromQL expression of the dashboard: panel targets and template variable queries."""
    with open(DASHBOARD) as f:
        doc = json.load(f)
    exprs = []

    def walk(panels):
        for panel in panels:
            exprs.extend(t["expr"] for t in panel.get("targets", []) if t.get("expr"))
            walk(panel.get("panels", []))

    walk(doc["panels"])
    for variable in doc["templating"]["list"]:
        if variable["type"] == "query":
            exprs.append(variable["query"]["query"] if isinstance(variable["query"], dict) else variable["query"])
    return exprs


def rule_expressions():
    with open(RULES) as f:
        return [line.split("expr:", 1)[1].strip() for line in f if line.strip().startswith("expr:")]


def as_promql(expr):
    """A Grafana expression as plain PromQL: variables replaced, label_values() as its metric."""
    expr = expr.replace("$__rate_interval", "1m").replace("$__interval", "1m")
    expr = re.sub(r"\$\{?[a-z_]+\}?", ".*", expr)
    match = re.fullmatch(r"label_values\((.*),\s*[a-z_]+\)", expr)
    return match.group(1) if match else expr


def exported_sample_names(proxy):
    """Sample names in /metrics of a pgrelay with replicas, a rate limit and tracing, after load."""
    with OTLPReceiver() as rx:
        p = proxy(pool_mode="transaction", default_pool_size=4, replicas=True, replica_check_interval_s=0.3,
                  otlp_endpoint=rx.endpoint, trace_sample_ratio=1, user_entries={"app": "query_rate_limit=1000"})
        with p.connect(prepare_threshold=None) as conn:
            for _ in range(20):
                conn.execute("SELECT 1")
                conn.execute("SELECT pg_sleep(0.001)")
        deadline = time.monotonic() + 10
        while True:
            status, text = p.http("/metrics")
            assert status == 200
            names = {s.name for family in text_string_to_metric_families(text) for s in family.samples}
            if "pgrelay_backend_lag_seconds" in names or time.monotonic() > deadline:
                return names


def test_alert_rules_pass_promtool_and_their_unit_tests():
    code, output = promtool("check", "rules", RULES)
    assert code == 0, output
    assert "SUCCESS: 11 rules found" in output, output
    code, output = promtool("test", "rules", os.path.basename(RULE_TESTS), cwd=os.path.dirname(RULE_TESTS))
    assert code == 0, output


def test_every_alert_has_a_runbook_entry():
    with open(os.path.join(harness.REPO, "docs", "operations.md")) as f:
        operations = f.read()
    with open(RULES) as f:
        alerts = re.findall(r"- alert: (\w+)", f.read())
    assert len(alerts) == 11
    for alert in alerts:
        assert f"#### {alert}" in operations, f"docs/operations.md has no runbook entry for {alert}"


def test_dashboard_and_rules_name_only_exported_metrics_in_valid_promql(proxy, tmp_path):
    exprs = dashboard_expressions()
    assert len(exprs) >= 25
    # promtool parses every dashboard expression, as recording rules of a scratch file.
    rules = "groups:\n  - name: dashboard\n    rules:\n" + "".join(
        f"      - record: pgrelay_dashboard_check_{i}\n        expr: {json.dumps(as_promql(e))}\n" for i, e in enumerate(exprs))
    scratch = tmp_path / "dashboard-rules.yml"
    scratch.write_text(rules)
    code, output = promtool("check", "rules", str(scratch))
    assert code == 0, output

    exported = exported_sample_names(proxy)
    missing = {}
    for expr in exprs + rule_expressions():
        names = METRIC.findall(expr)
        assert names, f"no pgrelay metric in {expr!r}"
        for name in names:
            if name not in exported:
                missing.setdefault(name, expr)
    assert not missing, f"not exported by pgrelay: {missing}"
