#!/usr/bin/env python3
"""Daemon memory and idle CPU: `tagsync run` over the five simulators, 10,000 tags on each.

    cargo build --release --bin tagsync
    python3 benches/daemon_rss.py --bin target/release/tagsync --cycles 100

The simulators of WeCom, Juzibot, Miaokol and the 个微 CRM are seeded with 200 groups x 50 tags
(10,000 tags); Dustess has no list call, so its 10,000 tags exist only in the mirror: the first
cycle creates them. The tag files declare the same 10,000 tags, so every later cycle is an idle
one (a full listing of each platform, a plan with nothing to do). The daemon runs on a one-second
schedule; after each cycle of every platform (`tagsync_cycles_total`, the slowest platform counts)
the script samples VmRSS and the process's CPU time from /proc/PID. It prints a Markdown table for
docs/BENCHMARKS.md. Standard library only.
"""

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

# SIGTERM (e.g. from `timeout`) stops the simulators and the daemon too, through `finally`.
signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

GROUPS, TAGS_PER_GROUP = 200, 50
PLATFORMS = ["wecom-hq", "juzi-main", "yzj", "dustess", "crm"]


def group_name(i):
    return f"G{i:03}"


def tag_name(i, j):
    return f"T{i:03}-{j:02}"


def groups(bigger_first):
    """The 10,000 tags in the tag files' order, with each platform's `order` convention."""
    def order(k, n):
        return n - k if bigger_first else k

    return [
        {
            "name": group_name(i),
            "order": order(i, GROUPS),
            "tags": [
                {"name": tag_name(i, j), "order": order(j, TAGS_PER_GROUP)}
                for j in range(TAGS_PER_GROUP)
            ],
        }
        for i in range(GROUPS)
    ]


def seed():
    # WeCom and Juzibot sort bigger `order` first: seeded the other way round, the first cycle
    # would reorder every tag (10,000 edits) instead of finding them in step.
    return {
        "wecom": {"groups": groups(bigger_first=True)},
        "juzibot": {"groups": groups(bigger_first=True)},
        "yzj": {"groups": groups(bigger_first=False)},
        "wechat_crm": {"groups": groups(bigger_first=False)},
        "dustess": {"groups": []},
    }


def tag_file():
    lines = ["groups:"]
    for i in range(GROUPS):
        tags = ", ".join(f'"{tag_name(i, j)}"' for j in range(TAGS_PER_GROUP))
        lines.append(f'  - name: "{group_name(i)}"\n    tags: [{tags}]')
    return "\n".join(lines) + "\n"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def metrics(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        return r.read().decode()


def ok_cycles(text):
    """tagsync_cycles_total{outcome="ok"} by platform."""
    out = {}
    for line in text.splitlines():
        if line.startswith("tagsync_cycles_total{") and 'outcome="ok"' in line:
            labels, value = line.rsplit(" ", 1)
            platform = labels.split('platform="', 1)[1].split('"', 1)[0]
            out[platform] = float(value)
    return out


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # utime and stime are fields 14 and 15 (1-based) of the whole line.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", default="target/release/tagsync")
    ap.add_argument("--cycles", type=int, default=100)
    ap.add_argument("--schedule", default="* * * * * *")
    ap.add_argument("--database-url", help="the mirror (default: a SQLite file in the work directory)")
    ap.add_argument(
        "--max-seconds",
        type=float,
        default=None,
        help="stop after this long and report the cycles reached (the table names how many)",
    )
    ap.add_argument("--env", action="append", default=[], help="NAME=VALUE for the daemon (repeatable)")
    args = ap.parse_args()
    binary = os.path.abspath(args.bin)
    work = tempfile.mkdtemp(prefix="tagsync-rss-")
    with open(os.path.join(work, "seed.json"), "w") as f:
        json.dump(seed(), f)
    cfg = os.path.join(work, "cfg.yaml")
    sim = subprocess.Popen(
        [binary, "sim", "--seed", "seed.json", "--write-config", cfg],
        cwd=work,
        stdout=subprocess.DEVNULL,
        stderr=open(os.path.join(work, "sim.log"), "w"),
    )
    daemon = None
    try:
        for _ in range(600):
            if os.path.exists(cfg) and "crm.secret" in open(cfg).read():
                break
            time.sleep(0.1)
        os.makedirs(os.path.join(work, "tags"), exist_ok=True)
        # `sim --write-config` also writes the demo's tag files: only the 10,000 tags are declared.
        for name in os.listdir(os.path.join(work, "tags")):
            os.remove(os.path.join(work, "tags", name))
        with open(os.path.join(work, "tags", "tags.yaml"), "w") as f:
            f.write(tag_file())
        port = free_port()
        with open(cfg, "a") as f:
            f.write(f'schedule: "{args.schedule}"\nlisten: 127.0.0.1:{port}\n')
        if args.database_url:
            text = open(cfg).read()
            start = text.index("database_url:")
            end = text.index("\n", start)
            with open(cfg, "w") as f:
                f.write(text[:start] + f"database_url: {args.database_url}" + text[end:])
        env = dict(os.environ, TAGSYNC_LOG="warn", NO_COLOR="1")
        env.update(kv.split("=", 1) for kv in args.env)
        daemon = subprocess.Popen(
            [binary, "--config", cfg, "run"],
            cwd=work,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=open(os.path.join(work, "daemon.log"), "w"),
        )
        samples = {}  # cycle -> (rss KiB, cpu s, wall s)
        started = time.monotonic()
        last = 0
        while last < args.cycles:
            if args.max_seconds is not None and time.monotonic() - started > args.max_seconds:
                print(f"stopped after {args.max_seconds:.0f} s at cycle {last}", file=sys.stderr)
                break
            if daemon.poll() is not None:
                sys.exit(f"the daemon exited; see {work}/daemon.log")
            try:
                counts = ok_cycles(metrics(port))
            except OSError:
                time.sleep(0.2)
                continue
            done = int(min(counts.get(p, 0) for p in PLATFORMS))
            if done > last:
                last = done
                samples[done] = (rss_kib(daemon.pid), cpu_seconds(daemon.pid), time.monotonic() - started)
            time.sleep(0.05)
    finally:
        for p in (daemon, sim):
            if p is not None and p.poll() is None:
                p.send_signal(signal.SIGTERM)
                p.wait(timeout=30)

    if not samples:
        sys.exit("no cycle completed on every platform")
    with open(os.path.join(work, "samples.csv"), "w") as f:
        f.write("cycle,rss_kib,cpu_s,wall_s\n")
        for k in sorted(samples):
            f.write("%d,%d,%.2f,%.2f\n" % ((k,) + samples[k]))

    def at(n):
        return samples[min((k for k in samples if k >= n), default=max(samples))]

    last = max(samples)
    if last < 10:
        # Too few cycles for the idle figures: measure from the second cycle instead.
        print(f"only {last} cycles: idle figures below are from cycle 2 on", file=sys.stderr)
    base = 10 if last >= 10 else min(2, last)
    first, tenth, final = at(1), at(base), samples[last]
    idle = sorted((k, v) for k, v in samples.items() if k >= base)
    peak = max((v[0] for _, v in idle), default=final[0])
    cpu_per_cycle = (final[1] - tenth[1]) / max(1, last - base)
    wall_per_cycle = (final[2] - tenth[2]) / max(1, last - base)
    print(f"| binary | `{args.bin}` |")
    print(f"| mirror | {'PostgreSQL' if args.database_url else 'SQLite'} |")
    print(f"| cycles reached | {last} (goal {args.cycles}; {len(samples)} samples), {final[2]:.0f} s |")
    print(f"| RSS after cycle 1 (bootstrap: Dustess's 10,000 creates) | {first[0] / 1024:.1f} MiB |")
    print(f"| RSS after cycle {base} | {tenth[0] / 1024:.1f} MiB |")
    print(f"| RSS after cycle {last} | {final[0] / 1024:.1f} MiB |")
    print(f"| RSS peak, cycles {base}..{last} | {peak / 1024:.1f} MiB |")
    print(f"| RSS slope, cycles {base}..{last} (least squares) | {slope(idle):+.1f} KiB per cycle |")
    print(f"| CPU per idle cycle (all five platforms, 50,000 tags) | {cpu_per_cycle * 1000:.0f} ms |")
    print(f"| wall per idle cycle (one-second schedule) | {wall_per_cycle:.2f} s |")
    print(f"| CPU, first cycle | {first[1]:.2f} s (wall {first[2]:.1f} s) |")
    print(f"(work directory: {work})", file=sys.stderr)


def slope(points):
    """Least-squares RSS slope in KiB per cycle over (cycle, (rss KiB, …)) points."""
    if len(points) < 2:
        return 0.0
    xs = [k for k, _ in points]
    ys = [v[0] for _, v in points]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / den if den else 0.0


if __name__ == "__main__":
    main()
