"""`python -m bench`: flexhook's benchmark (see bench/README.md)."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import Any

from bench.options import DEFAULT_PHASES, QUICK, Options
from bench.procs import BenchError
from bench.run import PHASES, run


def _interrupt(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # SIGTERM unwinds like Ctrl-C, so every child is stopped


def _parser() -> argparse.ArgumentParser:
    defaults = Options()
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--quick",
        action="store_true",
        help=(
            "one short run of each, 200 e2e events, 60 per cost kind, a 50k-event large "
            "store, routing to 1, 10 and 100 destinations"
        ),
    )
    parser.add_argument("--runs", type=int, help=f"runs of each measurement [{defaults.runs}]")
    parser.add_argument(
        "--duration", type=float, help=f"seconds per measurement [{defaults.duration:g}]"
    )
    parser.add_argument("--warmup", type=float, help=f"seconds of warm-up [{defaults.warmup:g}]")
    parser.add_argument("--concurrency", help="comma-separated [1,8,32]")
    parser.add_argument("--e2e-events", type=int, help=f"[{defaults.e2e_events}]")
    parser.add_argument("--workers", type=int, help="worker processes in the e2e case [1]")
    parser.add_argument(
        "--cost-events",
        type=int,
        help=f"events of each kind in the cost phase [{defaults.cost_events}]",
    )
    parser.add_argument(
        "--no-worker-profile",
        action="store_true",
        help="skip the extra e2e run under py-spy that profiles the worker",
    )
    parser.add_argument(
        "--events-1m",
        dest="large_store_events",
        type=int,
        metavar="N",
        help="events in the large store [1000000]; 0 skips it",
    )
    parser.add_argument(
        "--reads-requests",
        type=int,
        metavar="N",
        help="timed sequential requests per surface and store in the reads phase [30]",
    )
    parser.add_argument(
        "--routing-sizes",
        help="comma-separated destinations per alert in the routing phase [1,10,100,1000]",
    )
    parser.add_argument(
        "--phases",
        help=f"comma-separated, of {','.join(PHASES)} [{','.join(DEFAULT_PHASES)}]",
    )
    parser.add_argument("--work-dir", type=Path, help="keep databases and logs here")
    parser.add_argument("--keep", action="store_true", help="keep the temporary work dir")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="one extra run of ack, GET and spool under py-spy (not counted)",
    )
    parser.add_argument("--output", type=Path, help=f"JSON results [{defaults.output}]")
    return parser


def parse(argv: list[str]) -> Options:
    """The options `argv` asks for: `--quick`'s, then each one given over them."""
    parser = _parser()
    args = parser.parse_args(argv)
    values: dict[str, Any] = dict(QUICK) if args.quick else {}
    for name in (
        "runs",
        "duration",
        "warmup",
        "e2e_events",
        "workers",
        "cost_events",
        "large_store_events",
        "reads_requests",
        "work_dir",
        "output",
    ):
        if getattr(args, name) is not None:
            values[name] = getattr(args, name)
    if args.keep:
        values["keep"] = True
    if args.profile:
        values["profile"] = True
    if args.no_worker_profile:
        values["worker_profile"] = False
    if args.concurrency:
        values["concurrencies"] = tuple(int(c) for c in args.concurrency.split(","))
    if args.routing_sizes:
        values["routing_sizes"] = tuple(int(n) for n in args.routing_sizes.split(","))
    if args.phases:
        phases = tuple(p.strip() for p in args.phases.split(","))
        unknown = set(phases) - set(PHASES)
        if unknown:
            parser.error(f"unknown phases: {', '.join(sorted(unknown))}")
        values["phases"] = phases
    return Options(**values)


def main(argv: list[str] | None = None) -> int:
    options = parse(sys.argv[1:] if argv is None else argv)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        run(options)
    except BenchError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("bench: interrupted; every process it started is stopped", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
