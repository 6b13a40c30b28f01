"""From raw benchmark rows to a summary (JSON) and markdown tables, with issue 7's targets."""

import csv
import statistics

COLUMNS = ["time", "phase", "workload", "protocol", "clients", "round", "target", "duration_s", "tps",
           "transactions", "lat_avg_ms", "failed", "proxy_cpu_s", "cpu_us_per_tx", "p50_us", "p90_us",
           "p99_us", "clients_connected", "clients_served", "rss_base_bytes", "rss_bytes",
           "bytes_per_client", "load1", "status", "error"]

THROUGHPUT_RATIO_GOAL = 1.10        # pgrelay / PgBouncer TPS
PREPARED_DIRECT_GOAL = 0.80         # pgrelay / direct TPS, -M prepared, 100 clients
MEMORY_GOAL_BYTES = 2048            # per idle client at 10,000 clients
STATS_OVERHEAD_GOAL = 0.02          # 1 - TPS(stats on) / TPS(stats off)


INTEGER_COLUMNS = {"clients", "round", "duration_s", "clients_connected", "clients_served",
                   "rss_base_bytes", "rss_bytes"}
TEXT_COLUMNS = {"time", "phase", "workload", "protocol", "target", "status", "error"}


def load_raw(path):
    """Rows of a raw.tsv written by scripts/bench, with numbers as numbers."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    for r in rows:
        for k, v in r.items():
            if k in TEXT_COLUMNS:
                continue
            if v in ("", None):
                r[k] = None
            else:
                r[k] = int(float(v)) if k in INTEGER_COLUMNS else float(v)
    return rows


def _median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def _num(x, digits=0):
    if x is None:
        return "n/a"
    return f"{x:,.{digits}f}"


def _ratio(a, b):
    return a / b if a is not None and b else None


def _ok(rows):
    return [r for r in rows if r["status"] == "ok"]


def summarize(rows):
    """The medians, ratios and target verdicts of one run."""
    summary = {"throughput": [], "latency": [], "memory": [], "stats": [], "tls": [], "targets": []}
    groups = {}
    for r in rows:
        if r["phase"] == "throughput":
            groups.setdefault((r["workload"], r["protocol"], r["clients"]), {}).setdefault(r["target"], []).append(r)
    for (workload, protocol, clients), by_target in groups.items():
        cell = {"workload": workload, "protocol": protocol, "clients": clients}
        for target, rs in by_target.items():
            good = _ok(rs)
            cell[target] = {
                "tps": _median([r["tps"] for r in good]),
                "cpu_us_per_tx": _median([r["cpu_us_per_tx"] for r in good]),
                "runs": len(rs), "failed_runs": len([r for r in rs if r["status"] == "failed"]),
                "status": "n/a" if rs and all(r["status"] == "n/a" for r in rs) else "measured",
                "error": next((r["error"] for r in rs if r["status"] == "failed" and r["error"]), ""),
            }
        tps = {t: cell.get(t, {}).get("tps") for t in ("direct", "pgbouncer", "pgrelay")}
        cell["pgrelay_vs_pgbouncer"] = _ratio(tps["pgrelay"], tps["pgbouncer"])
        cell["pgrelay_vs_direct"] = _ratio(tps["pgrelay"], tps["direct"])
        cell["pgbouncer_vs_direct"] = _ratio(tps["pgbouncer"], tps["direct"])
        summary["throughput"].append(cell)

    lat = {}
    for r in rows:
        if r["phase"] == "latency":
            lat.setdefault(r["protocol"], {}).setdefault(r["target"], []).append(r)
    for protocol, by_target in lat.items():
        entry = {"protocol": protocol}
        for target, rs in by_target.items():
            good = _ok(rs)
            entry[target] = {k: _median([r[k] for r in good]) for k in ("p50_us", "p90_us", "p99_us")}
        base = entry.get("direct", {})
        for target in by_target:
            if target != "direct":
                for k in ("p50_us", "p90_us", "p99_us"):
                    v, b = entry[target].get(k), base.get(k)
                    entry[target]["added_" + k] = (v - b) if v is not None and b is not None else None
        summary["latency"].append(entry)

    for r in rows:
        if r["phase"] == "memory":
            summary["memory"].append({k: r[k] for k in ("target", "clients", "clients_connected", "clients_served",
                                                        "rss_base_bytes", "rss_bytes", "bytes_per_client",
                                                        "status", "error")})

    st = {}
    for r in rows:
        if r["phase"] == "stats":
            st.setdefault((r["workload"], r["protocol"], r["clients"]), {}).setdefault(r["target"], []).append(r)
    for (workload, protocol, clients), by_target in st.items():
        on = _median([r["tps"] for r in _ok(by_target.get("pgrelay", []))])
        off = _median([r["tps"] for r in _ok(by_target.get("pgrelay-nostats", []))])
        summary["stats"].append({"workload": workload, "protocol": protocol, "clients": clients,
                                 "tps_stats_on": on, "tps_stats_off": off,
                                 "overhead": (1 - on / off) if on and off else None,
                                 "rounds": len(by_target.get("pgrelay", []))})
    summary["tls"] = summarize_tls(rows)
    summary["targets"] = evaluate(summary)
    return summary


TLS_TARGETS = ("direct", "pgbouncer", "pgrelay")


def summarize_tls(rows):
    """Per cell: TPS and proxy CPU/tx of each target in plaintext and with TLS, and what TLS costs
    each (1 - TPS with TLS / TPS plaintext)."""
    groups = {}
    for r in rows:
        if r["phase"] == "tls":
            groups.setdefault((r["workload"], r["protocol"], r["clients"]), {}).setdefault(r["target"], []).append(r)
    cells = []
    for (workload, protocol, clients), by_target in groups.items():
        cell = {"workload": workload, "protocol": protocol, "clients": clients}
        for target, rs in by_target.items():
            good = _ok(rs)
            cell[target] = {"tps": _median([r["tps"] for r in good]),
                            "cpu_us_per_tx": _median([r["cpu_us_per_tx"] for r in good]),
                            "runs": len(rs), "failed_runs": len(rs) - len(good)}
        for target in TLS_TARGETS:
            plain, tls = cell.get(target, {}).get("tps"), cell.get(target + "-tls", {}).get("tps")
            cell[target + "_tls_cost"] = (1 - tls / plain) if plain and tls else None
        cells.append(cell)
    return cells


def _verdict(ok):
    return "n/a" if ok is None else ("met" if ok else "not met")


def evaluate(summary):
    """Issue 7's five targets, each with what was measured and whether it is met."""
    targets = []
    cells = summary["throughput"]

    # 1. throughput
    versus = [(c, c["pgrelay_vs_pgbouncer"]) for c in cells
              if c["protocol"] != "prepared" and c["pgrelay_vs_pgbouncer"] is not None]
    prepared = [(c, c["pgrelay_vs_direct"]) for c in cells
                if c["protocol"] == "prepared" and c["clients"] == max(x["clients"] for x in cells)
                and "pgrelay" in c]
    if versus:
        worst = min(versus, key=lambda x: x[1])
        met = sum(1 for _, v in versus if v >= THROUGHPUT_RATIO_GOAL)
        targets.append({"target": "1. throughput pgrelay/PgBouncer >= 1.10 (simple, extended)",
                        "measured": f"{met}/{len(versus)} cells met; min {worst[1]:.2f} "
                                    f"({worst[0]['workload']} {worst[0]['protocol']} c={worst[0]['clients']}), "
                                    f"median {statistics.median(v for _, v in versus):.2f}",
                        "verdict": _verdict(met == len(versus))})
    if prepared:
        def describe(c, v):
            relay = c["pgrelay"]
            text = f"{c['workload']} {v:.2f}" if v is not None else f"{c['workload']}: no successful run"
            if relay["failed_runs"]:
                text += f" ({relay['failed_runs']}/{relay['runs']} pgrelay runs failed: {relay['error']})"
            return text

        def passes(c, v):
            return v is not None and v >= PREPARED_DIRECT_GOAL and not c["pgrelay"]["failed_runs"]
        targets.append({"target": f"1. throughput -M prepared pgrelay/direct >= 0.80 at c={prepared[0][0]['clients']}",
                        "measured": "; ".join(describe(c, v) for c, v in prepared),
                        "verdict": _verdict(all(passes(c, v) for c, v in prepared))})

    # 2. CPU per transaction
    pairs = [(c, c["pgrelay"]["cpu_us_per_tx"], c["pgbouncer"]["cpu_us_per_tx"]) for c in cells
             if c.get("pgrelay", {}).get("cpu_us_per_tx") and c.get("pgbouncer", {}).get("cpu_us_per_tx")]
    if pairs:
        relay = statistics.median(p[1] for p in pairs)
        bouncer = statistics.median(p[2] for p in pairs)
        met = sum(1 for p in pairs if p[1] <= p[2])
        targets.append({"target": "2. proxy CPU per transaction <= PgBouncer's",
                        "measured": f"median {relay:.1f} µs vs {bouncer:.1f} µs (ratio {relay / bouncer:.2f}); "
                                    f"{met}/{len(pairs)} cells met",
                        "verdict": _verdict(met == len(pairs))})

    # 3. added latency
    for entry in summary["latency"]:
        relay, bouncer = entry.get("pgrelay", {}), entry.get("pgbouncer", {})
        for k in ("p50_us", "p90_us"):
            r, b = relay.get("added_" + k), bouncer.get("added_" + k)
            if r is None or b is None:
                continue
            targets.append({"target": f"3. added latency {k[:3]} ({entry['protocol']}, SELECT 1, 1 client) <= PgBouncer's",
                            "measured": f"pgrelay +{r:.0f} µs vs PgBouncer +{b:.0f} µs",
                            "verdict": _verdict(r <= b)})

    # 4. memory
    relay_mem = [m for m in summary["memory"] if m["target"] == "pgrelay"]
    if relay_mem:
        top = max(relay_mem, key=lambda m: m["clients"])
        bouncer = [m for m in summary["memory"] if m["target"] == "pgbouncer" and m["clients"] == top["clients"]]
        per = top["bytes_per_client"]
        all_served = top["clients_connected"] == top["clients"] and top["clients_served"] == top["clients"]
        text = (f"{_num(per)} B/client at {top['clients']:,} clients; connected {top['clients_connected']:,}, "
                f"served {top['clients_served']:,}")
        if bouncer and bouncer[0]["bytes_per_client"] is not None:
            text += f" (PgBouncer {_num(bouncer[0]['bytes_per_client'])} B/client)"
        goal_n = 10000
        ok = None if per is None else (per <= MEMORY_GOAL_BYTES and all_served)
        targets.append({"target": f"4. memory <= 2 KiB per idle client at {goal_n:,} clients, all served",
                        "measured": text + ("" if top["clients"] >= goal_n else f" (only {top['clients']:,} measured)"),
                        "verdict": _verdict(ok) if top["clients"] >= goal_n else "n/a"})

    # 5. stats overhead
    over = [s for s in summary["stats"] if s["overhead"] is not None]
    if over:
        worst = max(s["overhead"] for s in over)
        best = min(s["overhead"] for s in over)
        verdict = _verdict(worst <= STATS_OVERHEAD_GOAL)
        if best < -STATS_OVERHEAD_GOAL and worst > STATS_OVERHEAD_GOAL:
            # stats on came out both much faster and much slower: the noise exceeds the goal
            verdict = "inconclusive (noise > goal)"
        targets.append({"target": "5. stats on vs off <= 2 % throughput",
                        "measured": ", ".join(f"{s['workload']} {s['protocol']} c={s['clients']}: "
                                              f"{s['overhead'] * 100:+.1f} %" for s in over),
                        "verdict": verdict})
    return targets


def markdown(summary, meta):
    """The tables docs/performance.md shows."""
    out = []
    out.append(f"Run {meta['date']} on {meta['machine']}; load average {meta['load_before']} before, "
               f"{meta['load_after']} after.  ")
    out.append(f"Command: `{meta['command']}`")
    out.append("")
    if summary["targets"]:
        out.append("### Targets (issue 7)")
        out.append("")
        out.append("| target | measured | verdict |")
        out.append("|---|---|---|")
        for t in summary["targets"]:
            out.append(f"| {t['target']} | {t['measured']} | **{t['verdict']}** |")
        out.append("")
    if summary["throughput"]:
        out.append("### Throughput (TPS, median of rounds) and proxy CPU per transaction")
        out.append("")
        out.append("| workload | -M | clients | direct | PgBouncer | pgrelay | pgrelay/PgBouncer | pgrelay/direct "
                   "| PgBouncer µs CPU/tx | pgrelay µs CPU/tx |")
        out.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for c in summary["throughput"]:
            def tps(t):
                e = c.get(t)
                if not e:
                    return "–"
                if e["status"] == "n/a":
                    return "n/a"
                if e["tps"] is None:
                    return f"failed ({e['failed_runs']}/{e['runs']} runs)"
                return _num(e["tps"]) + (f" ({e['failed_runs']} failed)" if e["failed_runs"] else "")

            def cpu(t):
                e = c.get(t)
                return "n/a" if not e or e["cpu_us_per_tx"] is None else _num(e["cpu_us_per_tx"], 1)

            out.append(f"| {c['workload']} | {c['protocol']} | {c['clients']} | {tps('direct')} | {tps('pgbouncer')} "
                       f"| {tps('pgrelay')} | {_num(c['pgrelay_vs_pgbouncer'], 2)} | {_num(c['pgrelay_vs_direct'], 2)} "
                       f"| {cpu('pgbouncer')} | {cpu('pgrelay')} |")
        out.append("")
    if summary["latency"]:
        out.append("### Latency, `SELECT 1`, 1 client (µs, median of rounds; added = minus direct)")
        out.append("")
        out.append("| -M | target | p50 | p90 | p99 | added p50 | added p90 |")
        out.append("|---|---|---:|---:|---:|---:|---:|")
        for e in summary["latency"]:
            for t in ("direct", "pgbouncer", "pgrelay"):
                if t in e:
                    v = e[t]
                    out.append(f"| {e['protocol']} | {t} | {_num(v['p50_us'])} | {_num(v['p90_us'])} | {_num(v['p99_us'])} "
                               f"| {_num(v.get('added_p50_us')) if t != 'direct' else '–'} "
                               f"| {_num(v.get('added_p90_us')) if t != 'direct' else '–'} |")
        out.append("")
    if summary["memory"]:
        out.append("### Memory per idle client (fresh proxy per count; VmRSS after − before, / clients)")
        out.append("")
        out.append("| target | clients | connected | served (SELECT 1 each) | RSS before | RSS after | bytes/client |")
        out.append("|---|---:|---:|---:|---:|---:|---:|")
        for m in summary["memory"]:
            mib = lambda b: "n/a" if b is None else f"{b / 1048576:.1f} MiB"
            out.append(f"| {m['target']} | {m['clients']:,} | {_num(m['clients_connected'])} | {_num(m['clients_served'])} "
                       f"| {mib(m['rss_base_bytes'])} | {mib(m['rss_bytes'])} | {_num(m['bytes_per_client'])} |")
        out.append("")
    if summary["stats"]:
        out.append("### pgrelay stats on vs off (`stats = off`)")
        out.append("")
        out.append("| workload | -M | clients | rounds | TPS stats on | TPS stats off | overhead |")
        out.append("|---|---|---:|---:|---:|---:|---:|")
        for s in summary["stats"]:
            ov = "n/a" if s["overhead"] is None else f"{s['overhead'] * 100:+.1f} %"
            out.append(f"| {s['workload']} | {s['protocol']} | {s['clients']} | {s['rounds']} | {_num(s['tps_stats_on'])} "
                       f"| {_num(s['tps_stats_off'])} | {ov} |")
        out.append("")
    if summary.get("tls"):
        out.append("### TLS cost (TPS, median of rounds; cost = 1 − TPS with TLS / TPS plaintext)")
        out.append("")
        out.append("TLS on both legs: pgbench `sslmode=require` to the proxy, the proxy to PostgreSQL with "
                   "`server_tls_sslmode = require`; direct is pgbench `sslmode=require` to PostgreSQL.")
        out.append("")
        out.append("| workload | -M | clients | direct | direct TLS | PgBouncer | PgBouncer TLS | pgrelay | pgrelay TLS "
                   "| TLS cost direct | TLS cost PgBouncer | TLS cost pgrelay | PgBouncer TLS µs CPU/tx "
                   "| pgrelay TLS µs CPU/tx |")
        out.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for c in summary["tls"]:
            def tps(t):
                e = c.get(t)
                if not e:
                    return "–"
                return "failed" if e["tps"] is None else _num(e["tps"])

            def cost(t):
                v = c.get(t + "_tls_cost")
                return "n/a" if v is None else f"{v * 100:.0f} %"

            def cpu(t):
                e = c.get(t)
                return "n/a" if not e or e["cpu_us_per_tx"] is None else _num(e["cpu_us_per_tx"], 1)

            out.append(f"| {c['workload']} | {c['protocol']} | {c['clients']} | {tps('direct')} | {tps('direct-tls')} "
                       f"| {tps('pgbouncer')} | {tps('pgbouncer-tls')} | {tps('pgrelay')} | {tps('pgrelay-tls')} "
                       f"| {cost('direct')} | {cost('pgbouncer')} | {cost('pgrelay')} "
                       f"| {cpu('pgbouncer-tls')} | {cpu('pgrelay-tls')} |")
        out.append("")
    return "\n".join(out)
