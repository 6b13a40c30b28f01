"""Issue 18: OpenTelemetry spans for queries, exported over OTLP/HTTP to a small receiver."""

import re
import time

import pytest

from checks import metric
from otlp_receiver import OTLPReceiver

pytestmark = [pytest.mark.issue18, pytest.mark.pgrelay_only("OpenTelemetry tracing")]

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT = "00f067aa0ba902b7"
SAMPLED = f"00-{TRACE}-{PARENT}-01"
SSN = "SSN-123-45-6789"


def tp(trace, parent, flags="01"):
    return f"00-{trace}-{parent}-{flags}"


def wait_for_spans(receiver, count, timeout=8):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        spans = receiver.spans()
        if len(spans) >= count:
            return spans
        time.sleep(0.1)
    return receiver.spans()


@pytest.fixture
def traced(proxy):
    def start(receiver, **settings):
        settings.setdefault("trace_sample_ratio", 0)
        return proxy(pool_mode="transaction", default_pool_size=4, otlp_endpoint=receiver.endpoint,
                     otlp_service_name="checkout-db", **settings)
    return start


def test_sqlcommenter_traceparent_makes_a_child_span_with_the_query_facts(traced, cluster):
    with OTLPReceiver() as rx:
        p = traced(rx)
        with p.connect(prepare_threshold=None) as conn:
            # Simple protocol, sqlcommenter's trailing comment.
            conn.execute(f"SELECT count(*) FROM pg_class WHERE relname = '{SSN}' /*action='list',traceparent='{SAMPLED}'*/")
            # Extended protocol: the comment rides in the Parse.
            conn.execute(f"SELECT %s::text /*traceparent='{tp(TRACE, 'b7ad6b7169203331')}'*/", (SSN,))
            # An error: its SQLSTATE, not its message.
            with pytest.raises(Exception):
                conn.execute(f"/*traceparent='{tp(TRACE, 'aaaaaaaaaaaaaaaa')}'*/ SELECT 1/0")
            # The caller did not sample this one: no span.
            conn.execute(f"SELECT 2 /*traceparent='{tp('0af7651916cd43dd8448eb211c80319c', 'cccccccccccccccc', '00')}'*/")
            # No trace context and a ratio of 0: no span.
            conn.execute("SELECT 3")
        spans = wait_for_spans(rx, 3)
        time.sleep(1.5)
        spans = rx.spans()
        assert len(spans) == 3, spans
        by_parent = {s["parentSpanId"]: s for s in spans}
        assert set(by_parent) == {PARENT, "b7ad6b7169203331", "aaaaaaaaaaaaaaaa"}
        for span in spans:
            assert span["traceId"] == TRACE, "the database leg joins the application's trace"
            assert re.fullmatch(r"[0-9a-f]{16}", span["spanId"]) and span["spanId"] not in by_parent
            assert span["kind"] == 3
            assert int(span["endTimeUnixNano"]) > int(span["startTimeUnixNano"]) > (time.time() - 60) * 1e9
            attrs = span["attrs"]
            assert attrs["db.system"] == "postgresql"
            assert attrs["db.name"] == "appdb"
            assert attrs["db.user"] == "app"
            assert attrs["pgrelay.route"] == "primary"
            assert attrs["server.address"] == "127.0.0.1"
            assert attrs["server.port"] == str(cluster.primary_port)
            assert span["resource"]["service.name"] == "checkout-db"
        simple = by_parent[PARENT]
        assert simple["attrs"]["db.statement"] == "SELECT count(*) FROM pg_class WHERE relname = $1"
        assert simple["name"] == "SELECT appdb"
        assert "status" not in simple
        failed = by_parent["aaaaaaaaaaaaaaaa"]
        assert failed["attrs"]["db.response.status_code"] == "22012"
        assert failed["status"] == {"code": 2, "message": "SQLSTATE 22012"}
        body = rx.raw().decode()
        assert SSN not in body, "no literal leaves the process"
        assert "traceparent" not in body, "nor the comment"
        assert "division by zero" not in body, "nor the server's error message"
        path, headers = rx.requests[0]
        assert path == "/v1/traces" and headers["Content-Type"] == "application/json"
        assert metric(p, "pgrelay_trace_spans_total", outcome="exported") == 3


def test_application_name_carries_the_trace_of_a_session(traced):
    first, second = tp(TRACE, "1111111111111111"), tp(TRACE, "2222222222222222")
    with OTLPReceiver() as rx:
        p = traced(rx)
        with p.connect(prepare_threshold=None, application_name=first) as conn:
            conn.execute("SELECT 1")
            conn.execute("BEGIN")
            conn.execute("SELECT 2")
            conn.execute("COMMIT")
            # PostgreSQL keeps 63 bytes of application_name: the traceparent's 55 leave 8 for anything else.
            conn.execute(f"SET application_name = '{second}'")
            conn.execute("SELECT 3")
            # A comment wins over the session's name.
            conn.execute(f"SELECT 4 /*traceparent='{tp(TRACE, '3333333333333333')}'*/")
        wait_for_spans(rx, 7)
        time.sleep(1.2)
        parents = [s["parentSpanId"] for s in sorted(rx.spans(), key=lambda s: int(s["startTimeUnixNano"]))]
        # SELECT 1, BEGIN, SELECT 2, COMMIT under the startup name; the SET's own answer already
        # carries the new name (ParameterStatus comes before its ReadyForQuery), as does SELECT 3.
        assert parents == ["1111111111111111"] * 4 + ["2222222222222222"] * 2 + ["3333333333333333"], parents


def test_sample_ratio_starts_traces_of_its_own_and_reload_changes_it(traced):
    with OTLPReceiver() as rx:
        p = traced(rx, trace_sample_ratio=0)
        with p.connect(prepare_threshold=None) as conn:
            for _ in range(50):
                conn.execute("SELECT 1")
        time.sleep(1.5)
        assert rx.spans() == [], "ratio 0: nothing without a trace context"
        p.write_config(trace_sample_ratio=0.1)
        p.reload()
        time.sleep(0.5)
        with p.connect(prepare_threshold=None) as conn:
            for _ in range(1000):
                conn.execute("SELECT 1")
        spans = wait_for_spans(rx, 60)
        time.sleep(1.5)
        spans = rx.spans()
        assert 50 <= len(spans) <= 160, f"about 10 % of 1000 queries: {len(spans)}"
        assert all("parentSpanId" not in s for s in spans), "roots of traces of their own"
        assert len({s["traceId"] for s in spans}) == len(spans), "each in its own trace"


def test_a_collector_that_is_away_costs_dropped_spans_not_queries(traced):
    # Nothing listens on the receiver's port once it is closed: every export fails.
    with OTLPReceiver() as rx:
        endpoint = rx
    p = traced(endpoint, trace_sample_ratio=1, otlp_queue_size=20)
    start = time.monotonic()
    with p.connect(prepare_threshold=None) as conn:
        for _ in range(300):
            conn.execute("SELECT 1")
    elapsed = time.monotonic() - start
    time.sleep(2.5)
    dropped = metric(p, "pgrelay_trace_spans_total", outcome="dropped")
    failed = metric(p, "pgrelay_trace_spans_total", outcome="failed")
    assert dropped >= 300 - 20 - 20, (dropped, failed)
    assert failed >= 1
    assert metric(p, "pgrelay_trace_spans_total", outcome="exported") == 0
    assert elapsed < 30, "queries did not wait for the exporter"
    assert "span export failed" in p.log_text()
