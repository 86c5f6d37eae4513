"""``make bench``: RunAPI's clients against raw httpx and the OpenAI-based peers, on one machine.

It starts a server as its own process on 127.0.0.1 (a fresh one per client run): by default
``bench/server.py``, which answers chat completions with the fake RunAPI server's bytes at a
lower CPU cost per request (``--server emulator``: ``tests.support.fake_runapi`` itself), so it
does not share a GIL with the client measured,
and runs every client in a fresh interpreter (``bench/clients.py``) once per round, alternating
the order of clients from round to round, and reports the median of the rounds for:

- ``import``: time to import the module that provides the client class (fresh interpreter);
- ``sequential``: N non-streamed calls one after another (default 300);
- ``stream``: one streamed answer of N chunks (default 20,000), consumed to the end;
- ``async``: N async calls with at most C in flight (default 1,000 at 64).

And, in this process, ``decoder``: the SSE decoder's time per MB for one 20 MB event line fed
in 64 KB pieces (as a long event arrives off the network), ours and the OpenAI SDK's
(``openai._streaming.SSEDecoder``) in the same rounds, alternating, and their ratio.

Besides the clients and their peers, the core four more ways: ``runapi_client@base``, the core
of ``--baseline`` (default: where this branch left main), ``runapi_client+otel-idle`` /
``runapi_client+otel``, the core with OpenTelemetry imported but not set up, and set up with an
exporter that drops what it gets: what the call hooks and telemetry cost; and
``runapi_client-nopace``, the core with ``pacing=False``: what the pacer costs calls that meet
no limit (docs/performance.md).

Then ``ratelimit`` (``bench/ratelimit.py``): 1,000 calls at concurrency 64 on one key against a
server that admits 100 a second and 16 in flight (429 with ``Retry-After`` beyond), through
ChatRunAPI, RunAPILLM, ChatOpenAI, OpenAILike and ChatRunAPI with ``max_concurrency=16``: calls
failed to the caller, requests wasted on 429s, makespan against the ideal (``--no-ratelimit``
skips it, ``--ratelimit-only`` runs it alone, with ``--quick`` on 300 calls through ChatRunAPI
and ChatOpenAI). A quick run leaves it and the core variants out.

The table shows medians and the ratios ours/peer and ours/httpx, each ours/peer ratio marked
against its goal (a legend under the table says what the marks mean); the same goes to
``bench/results/local/latest.json`` and a time-stamped copy there, which git ignores (the runs
that docs/performance.md cites are the ones committed in ``bench/results/``). A client that
cannot be imported yet is reported as ``n/a``.

    python bench/run.py                 # 5 rounds, full sizes (~5 min on 2 cores): make bench
    python bench/run.py --quick         # 3 rounds at reduced sizes (< 1 min): make bench QUICK=1
    python bench/run.py --rounds 9 --clients ChatRunAPI,ChatOpenAI
    python bench/run.py --decoder-only  # the decoder scenario alone (seconds)
    python bench/run.py --ratelimit-only  # the rate-limit scenario alone (~1 min)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from io import BytesIO
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
WORKER = Path(__file__).resolve().parent / "clients.py"
RESULTS = Path(__file__).resolve().parent / "results" / "local"
"""Where runs are written: git ignores it. A run worth citing is copied to bench/results/."""

CLIENTS = (
    "httpx",
    "runapi_client",
    "ChatRunAPI",
    "ChatOpenAI",
    "RunAPILLM",
    "OpenAILike",
    "runapi_client@base",
    "runapi_client+otel-idle",
    "runapi_client+otel",
    "runapi_client-nopace",
)
CORE_VARIANTS = (
    "runapi_client@base",
    "runapi_client+otel-idle",
    "runapi_client+otel",
    "runapi_client-nopace",
)
# A quick run leaves the core variants out: each measures a cost of one or two percent, which
# three rounds at reduced sizes cannot tell from noise (docs/performance.md quotes full runs).
QUICK_CLIENTS = tuple(c for c in CLIENTS if c not in CORE_VARIANTS)
SCENARIOS = ("sequential", "stream", "async", "import")
CPU = ("sequential", "stream", "async")
PAIRS = (("ChatRunAPI", "ChatOpenAI"), ("RunAPILLM", "OpenAILike"))
# ours/peer at most (issue 6)
GOALS = {
    "ChatRunAPI": {"sequential": 0.5, "stream": 0.35, "async": 0.6, "import": 0.6},
    "RunAPILLM": {"sequential": 0.5, "stream": 0.35, "async": 0.6, "import": 0.7},
}
WORKER_TIMEOUT = 600.0


def _env() -> dict[str, str]:
    env = dict(os.environ)
    # Nothing between the clients and 127.0.0.1, no tracing, no telemetry.
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        env.pop(name, None)
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    env["LANGCHAIN_TRACING_V2"] = env["LANGSMITH_TRACING"] = "false"
    # Any non-empty value, "0" included, stops Python writing .pyc files: the untimed first
    # pass is there to write them, so every timed import reads compiled modules.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.pop("PYTHONPROFILEIMPORTTIME", None)
    return env


SERVERS = {"lean": "bench.server", "emulator": "tests.support.fake_runapi"}


def start_server(shape: str, kind: str = "lean") -> tuple[subprocess.Popen[str], str]:
    server = subprocess.Popen(
        [sys.executable, "-m", SERVERS[kind], "--port", "0", "--stream-shape", shape],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    assert server.stdout is not None
    line = server.stdout.readline().strip()
    if not line.startswith("http://"):
        server.kill()
        raise SystemExit(f"the {kind} server did not start (it printed {line!r})")
    return server, line


BASELINES: dict[str, str] = {}
"""Client -> a folder to put first on its worker's PYTHONPATH (the baseline core)."""


def extract_baseline(ref: str) -> str | None:
    """``runapi_client`` as it was at ``ref`` (a commit, a branch, or empty for where this
    branch left main), in a temporary folder; None if git cannot give it."""
    if not ref:
        found = subprocess.run(
            ["git", "merge-base", "HEAD", "main"], cwd=ROOT, capture_output=True, text=True
        )
        ref = found.stdout.strip()
    if not ref:
        return None
    archive = subprocess.run(
        ["git", "archive", "--format=tar", ref, "runapi_client"], cwd=ROOT, capture_output=True
    )
    if archive.returncode != 0:
        return None
    folder = tempfile.mkdtemp(prefix="bench-baseline-")
    with tarfile.open(fileobj=BytesIO(archive.stdout)) as tar:
        tar.extractall(folder)  # our own repository's tree
    print(f"baseline core: {ref[:12]} in {folder}", flush=True)
    return folder


def run_worker(client: str, shape: str, sizes: list[int], kind: str = "lean") -> dict[str, Any]:
    """One client in a fresh interpreter against a fresh server (no state carried over)."""
    server, base_url = start_server(shape, kind)
    try:
        return _run_worker(client, base_url, sizes)
    finally:
        server.terminate()
        server.wait(timeout=10)


def _run_worker(client: str, base_url: str, sizes: list[int]) -> dict[str, Any]:
    env = _env()
    if client in BASELINES:
        env["PYTHONPATH"] = os.pathsep.join([BASELINES[client], str(ROOT)])
    elif client.endswith("@base"):
        return {"error": "n/a (no baseline tree: see --baseline)"}
    try:
        proc = subprocess.run(
            [sys.executable, str(WORKER), client, base_url, *map(str, sizes)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            env=env,
            timeout=WORKER_TIMEOUT,
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {WORKER_TIMEOUT:.0f}s"}
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": f"failed: {tail[:200]}"}
    report: dict[str, Any] = json.loads(lines[-1])
    return report


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def _fmt_time(seconds: float | None) -> str:
    if seconds is None:
        return "n/a"
    return f"{seconds * 1000:,.0f} ms" if seconds >= 0.1 else f"{seconds * 1000:,.1f} ms"


def _fmt_ratio(value: float | None, goal: float | None = None) -> str:
    if value is None:
        return "n/a"
    mark = "" if goal is None else (" ok" if value <= goal else f" >{goal}")
    return f"{value:.2f}{mark}"


DECODER_LINE_MB = 20
DECODER_PIECE = 64 * 1024


def decoder_scenario(rounds: int) -> dict[str, Any]:
    """Seconds per MB to decode one long event line fed in network-sized pieces: ours and the
    OpenAI SDK's decoder (``None`` if the ``openai`` package is not installed)."""
    sys.path.insert(0, str(ROOT))
    from runapi_client import SSEDecoder

    decoder_class: Any = None  # the OpenAI SDK's; the dev extra has it (via langchain-openai)
    with contextlib.suppress(ImportError):
        from openai._streaming import SSEDecoder as OpenAIDecoder

        decoder_class = OpenAIDecoder

    size = DECODER_LINE_MB * 1024 * 1024
    line = b"data: " + b"x" * size + b"\n\n"
    pieces = [line[i : i + DECODER_PIECE] for i in range(0, len(line), DECODER_PIECE)]

    def ours() -> int:
        # The limit raised past the line: this measures decoding, not the 16 MB cap.
        decoder = SSEDecoder(max_event_bytes=2 * size)
        events = [event for piece in pieces for event in decoder.feed(piece)]
        return len(events + decoder.close())

    def openai_sdk() -> int:
        return sum(1 for _ in decoder_class().iter_bytes(iter(pieces)))

    runs = {"ours": ours, "openai": openai_sdk} if decoder_class is not None else {"ours": ours}
    times: dict[str, list[float]] = {name: [] for name in runs}
    for n in range(rounds):
        for name in sorted(runs, reverse=bool(n % 2)):
            started = time.perf_counter()
            events = runs[name]()
            times[name].append(time.perf_counter() - started)
            assert events == 1, (name, events)
    per_mb = {name: statistics.median(t) / DECODER_LINE_MB for name, t in times.items()}
    return {
        "line_mb": DECODER_LINE_MB,
        "piece_bytes": DECODER_PIECE,
        "rounds": rounds,
        "seconds_per_mb": per_mb,
        "ratio_ours_openai": _ratio(per_mb["ours"], per_mb.get("openai")),
        "samples": times,
    }


def render_decoder(result: dict[str, Any]) -> str:
    per_mb = result["seconds_per_mb"]
    shown = "  ".join(f"{name} {per_mb[name] * 1000:.2f} ms/MB" for name in per_mb)
    return (
        f"SSE decoder, one {result['line_mb']} MB line in {result['piece_bytes'] // 1024} KB "
        f"pieces: {shown}  ours/openai {_fmt_ratio(result['ratio_ours_openai'])}"
    )


def legend(report: dict[str, Any]) -> str:
    """What the marks on the ours/peer ratios mean, and which goals this run met or missed."""
    met: list[str] = []
    missed: list[str] = []
    for name, ratios in report["ratios"].items():
        ours = name.split("/")[0]
        if name.endswith("/httpx"):
            continue
        for scenario, goal in GOALS.get(ours, {}).items():
            value = ratios.get(scenario)
            if value is None:
                continue
            if value <= goal:
                met.append(f"{name} {scenario}")
            else:
                missed.append(f"{name} {scenario} {value:.2f} > {goal}")
    width = max(len(f"{ours}/{peer}") for ours, peer in PAIRS)
    lines = ["Goals: each ours/peer ratio of medians at most (lower is better)"]
    for ours, peer in PAIRS:
        bounds = ", ".join(f"{s} {GOALS[ours][s]}" for s in SCENARIOS)
        lines.append(f"  {f'{ours}/{peer}':{width}}  {bounds}")
    lines += [
        "Marks: 'ok' goal met, the ratio is at or under its goal;",
        "       '>G' goal missed, the ratio is over its goal G ('0.78 >0.7': 0.78, goal 0.7).",
        "       ours/httpx ratios have no goal and no mark: the cost over hand-written httpx.",
        f"Goals met: {len(met)} of {len(met) + len(missed)}."
        + (" Missed: " + "; ".join(missed) + "." if missed else ""),
    ]
    if missed:
        lines += [
            "A missed goal is reported, not an error (the exit status stays 0): wall times on a",
            "shared 2-core VM move by 10-40 % from run to run (docs/performance.md); run more",
            "rounds (--rounds 9) before reading one run as a regression.",
        ]
    if report.get("quick"):
        lines.append(QUICK_NOTE)
    return "\n".join(lines)


QUICK_NOTE = (
    "QUICK run: 3 rounds at reduced sizes. Its figures are noisier than a full run's and not\n"
    "comparable with docs/performance.md; quote figures from a full make bench. The core\n"
    "variants (@base, +otel, -nopace) and the rate-limit run are left out."
)


RATELIMIT_GOALS = {"wasted": 0.05, "makespan": 1.2}
"""Per call: at most 5 % of the calls' worth of requests refused; the batch within 1.2x of the
ideal (calls / rate); and no call failed to the caller (issue 14)."""


def ratelimit_scenario(quick: bool) -> dict[str, Any]:
    """The rate-limit scenario of ``bench/ratelimit.py``, its rows and settings."""
    sys.path.insert(0, str(ROOT))
    from bench import ratelimit

    settings: dict[str, Any] = {
        "calls": 300 if quick else 1000,
        "concurrency": 64,
        "rate": 100,
        "in_flight": 16,
        "latency": 0.05,
    }
    print(
        f"rate limits: {settings['calls']} calls at concurrency 64 per client against a server "
        "taking 100/s and 16 in flight ...",
        flush=True,
    )
    # quick (--ratelimit-only --quick): one ours/peer pair, on 300 calls
    clients = ["ChatRunAPI", "ChatOpenAI"] if quick else list(ratelimit.CLIENTS)
    rows = ratelimit.run_scenario(clients=clients, **settings)
    return {"settings": settings, "rows": rows, "table": ratelimit.report(rows, settings["calls"])}


def render_ratelimit(result: dict[str, Any]) -> str:
    settings = result["settings"]
    lines = [
        f"Rate limits: {settings['calls']} calls at concurrency {settings['concurrency']} on one "
        f"key; the server admits {settings['rate']}/s and {settings['in_flight']} in flight "
        f"(429 + Retry-After beyond); ideal {settings['calls'] / settings['rate']:.1f} s",
        result["table"],
    ]
    if settings["calls"] != 1000:
        lines.append(
            "  (the goals are for the full run's 1,000 calls: on a short batch the two key-wide "
            "Retry-After pauses, ~1 s each, weigh more)"
        )
        return "\n".join(lines)
    for row in result["rows"]:
        if row["client"] not in ("ChatRunAPI", "RunAPILLM") or "error" in row:
            continue
        wasted = row["wasted"] / settings["calls"]
        makespan = row["seconds"] / row["ideal"]
        missed = [
            *([f"{row['failed']} failed"] if row["failed"] else []),
            *(
                [f"wasted {wasted:.1%} > {RATELIMIT_GOALS['wasted']:.0%}"]
                if wasted > RATELIMIT_GOALS["wasted"]
                else []
            ),
            *(
                [f"makespan {makespan:.2f} > {RATELIMIT_GOALS['makespan']}"]
                if makespan > RATELIMIT_GOALS["makespan"]
                else []
            ),
        ]
        lines.append(
            f"  {row['client']}: goals (0 failed, wasted <= 5 %, makespan <= 1.2x) "
            + ("met" if not missed else "missed: " + ", ".join(missed))
        )
    return "\n".join(lines)


def render(report: dict[str, Any]) -> str:
    medians = report["medians"]
    sizes = report["sizes"]
    heads = {
        "sequential": f"{sizes['sequential']} sequential",
        "stream": f"stream {sizes['stream']:,} chunks",
        "async": f"{sizes['async']:,} async @{sizes['concurrency']}",
        "import": "import",
    }
    rows = [["client", *heads.values()]]
    for client in report["clients"]:
        row = medians.get(client) or {}
        if "error" in row:
            rows.append([client, *(["n/a"] * len(SCENARIOS))])
            continue
        rows.append([client, *(_fmt_time(row.get(s)) for s in SCENARIOS)])
    rows.append([""] * (len(SCENARIOS) + 1))
    for name, ratios in report["ratios"].items():
        ours = name.split("/")[0]
        goals = GOALS.get(ours, {}) if not name.endswith("/httpx") else {}
        rows.append([name, *(_fmt_ratio(ratios.get(s), goals.get(s)) for s in SCENARIOS)])
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for n, row in enumerate(rows):
        cells = [row[0].ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)
        ]
        lines.append("  ".join(cells).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    for client in report["clients"]:
        if "error" in (medians.get(client) or {}):
            lines.append(f"{client}: {medians[client]['error']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="3 rounds at reduced sizes (< 1 min; noisier figures)",
    )
    parser.add_argument("--rounds", type=int, default=None, help="rounds (default 5; quick 3)")
    parser.add_argument(
        "--clients", default="", help="comma-separated subset (default all; quick: no variants)"
    )
    parser.add_argument("--stream-shape", default="native", choices=("native", "normalised"))
    parser.add_argument(
        "--server",
        default="lean",
        choices=tuple(SERVERS),
        help="lean: bench/server.py (default); emulator: tests.support.fake_runapi",
    )
    parser.add_argument("--sequential", type=int, default=None, help="calls (default 300)")
    parser.add_argument("--chunks", type=int, default=None, help="stream chunks (default 20000)")
    parser.add_argument("--async-calls", type=int, default=None, help="calls (default 1000)")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument(
        "--baseline",
        default="",
        help="git ref of the core runapi_client@base runs (default: merge-base with main)",
    )
    parser.add_argument("--out", type=Path, default=None, help="JSON path (default results/)")
    parser.add_argument(
        "--decoder-only", action="store_true", help="only the SSE decoder scenario, printed"
    )
    parser.add_argument("--no-ratelimit", action="store_true", help="skip the rate-limit run")
    parser.add_argument(
        "--ratelimit-only", action="store_true", help="only the rate-limit scenario, printed"
    )
    args = parser.parse_args(argv)

    quick = args.quick
    rounds = args.rounds or (3 if quick else 5)
    if args.decoder_only:
        print(render_decoder(decoder_scenario(rounds)))
        return 0
    if args.ratelimit_only:
        print(render_ratelimit(ratelimit_scenario(quick)))
        return 0
    sizes = {
        "sequential": args.sequential or (100 if quick else 300),
        "stream": args.chunks or (2000 if quick else 20000),
        "async": args.async_calls or (128 if quick else 1000),
        "concurrency": args.concurrency,
    }
    clients = [c for c in args.clients.split(",") if c] or list(QUICK_CLIENTS if quick else CLIENTS)
    for c in clients:
        if c not in CLIENTS:
            parser.error(f"unknown client {c!r}; choose from {', '.join(CLIENTS)}")
    worker_sizes = [sizes["sequential"], sizes["stream"], sizes["async"], sizes["concurrency"]]
    if "runapi_client@base" in clients:
        folder = extract_baseline(args.baseline)
        if folder is not None:
            BASELINES["runapi_client@base"] = folder

    print(
        f"{rounds} rounds of {len(clients)} clients, each in a fresh interpreter against a fresh"
        f" server; sizes: {sizes['sequential']} sequential calls, a stream of {sizes['stream']:,}"
        f" chunks, {sizes['async']:,} async calls @{sizes['concurrency']}.",
        flush=True,
    )
    if quick:
        print(QUICK_NOTE, flush=True)
    started = time.perf_counter()
    samples: dict[str, dict[str, list[float]]] = {c: {s: [] for s in SCENARIOS} for c in clients}
    # client CPU seconds (process time) per workload: less sensitive to a busy machine
    cpu_samples: dict[str, dict[str, list[float]]] = {c: {s: [] for s in CPU} for c in clients}
    errors: dict[str, str] = {}
    # Untimed pass at small sizes: byte-compiles every client once (so round 1's imports
    # are not penalised). Quick: none; only our own modules can lack their compiled files (pip
    # compiles what it installs), which costs round 1's import a few tens of ms, and the median
    # of three drops one slow round.
    if not quick:
        for client in clients:
            run_worker(client, args.stream_shape, [10, 200, 64, sizes["concurrency"]], args.server)
    for n in range(rounds):
        order = clients[n % len(clients) :] + clients[: n % len(clients)]
        if n % 2:
            order.reverse()
        for client in order:
            if client in errors:
                continue
            result = run_worker(client, args.stream_shape, worker_sizes, args.server)
            if "error" in result:
                errors[client] = result["error"]
                print(f"round {n + 1}/{rounds} {client}: {result['error']}", flush=True)
                continue
            for s in SCENARIOS:
                samples[client][s].append(result[s])
            for s in CPU:
                cpu_samples[client][s].append(result[f"{s}_cpu"])
            print(
                f"round {n + 1}/{rounds} {client:14} "
                + "  ".join(f"{s} {_fmt_time(result[s])}" for s in SCENARIOS),
                flush=True,
            )

    decoder = decoder_scenario(rounds)
    print(render_decoder(decoder), flush=True)
    # quick: not run (~12 s of a minute); --ratelimit-only --quick runs it on 300 calls
    limits = None if args.no_ratelimit or quick else ratelimit_scenario(quick)

    medians: dict[str, dict[str, Any]] = {}
    for client in clients:
        if client in errors:
            medians[client] = {"error": errors[client]}
        else:
            medians[client] = {s: _median(samples[client][s]) for s in SCENARIOS}
            medians[client]["cpu"] = {s: _median(cpu_samples[client][s]) for s in CPU}

    def scenario_ratios(a: str, b: str) -> dict[str, float | None]:
        ma, mb = medians.get(a, {}), medians.get(b, {})
        return {s: _ratio(ma.get(s), mb.get(s)) for s in SCENARIOS}

    ratios: dict[str, dict[str, float | None]] = {}
    for ours, peer in PAIRS:
        if ours in medians and peer in medians:
            ratios[f"{ours}/{peer}"] = scenario_ratios(ours, peer)
    for ours in ("runapi_client", "ChatRunAPI", "RunAPILLM", "ChatOpenAI", "OpenAILike"):
        if ours in medians and "httpx" in medians:
            ratios[f"{ours}/httpx"] = scenario_ratios(ours, "httpx")
    for variant in CORE_VARIANTS:
        if variant in medians and "runapi_client" in medians:
            if variant.endswith(("@base", "-nopace")):  # now / before; paced / not
                ratios[f"runapi_client/{variant}"] = scenario_ratios("runapi_client", variant)
            else:  # with telemetry / without
                ratios[f"{variant}/runapi_client"] = scenario_ratios(variant, "runapi_client")

    cpu_ratios: dict[str, dict[str, float | None]] = {}
    for name in ratios:
        a, b = name.split("/")
        ca, cb = medians[a].get("cpu", {}), medians[b].get("cpu", {})
        cpu_ratios[name] = {s: _ratio(ca.get(s), cb.get(s)) for s in CPU}

    report: dict[str, Any] = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "python": platform.python_version(),
        },
        "rounds": rounds,
        "quick": quick,
        "sizes": sizes,
        "stream_shape": args.stream_shape,
        "server": SERVERS[args.server],
        "clients": clients,
        "medians": medians,
        "ratios": ratios,
        "cpu_ratios": cpu_ratios,
        "decoder": decoder,
        "ratelimit": limits,
        "goals": GOALS,
        "samples": samples,
        "cpu_samples": cpu_samples,
        "wall_seconds": round(time.perf_counter() - started, 1),
    }
    table = render(report)
    report["table"] = table
    print()
    print(table)
    print()
    print(legend(report))
    print("\nclient CPU time ratios (process time, medians):")
    for name, r in cpu_ratios.items():
        print(f"  {name:24} " + "  ".join(f"{s} {_fmt_ratio(r[s])}" for s in CPU))
    print(render_decoder(decoder))
    if limits is not None:
        print()
        print(render_ratelimit(limits))
    print(
        f"\n{rounds} rounds, medians; {report['machine']['cpus']} CPUs; {report['wall_seconds']} s"
    )

    RESULTS.mkdir(parents=True, exist_ok=True)
    out = args.out or RESULTS / "latest.json"
    out.write_text(json.dumps(report, indent=2) + "\n")
    if args.out is None:
        stamp = time.strftime("%Y%m%d-%H%M%S") + ("-quick" if quick else "")
        (RESULTS / f"bench-{stamp}.json").write_text(json.dumps(report, indent=2) + "\n")
    where = out.relative_to(ROOT) if out.is_relative_to(ROOT) else out
    print(f"written to {where}" + (" (git ignores it)" if out.is_relative_to(RESULTS) else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
