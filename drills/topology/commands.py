"""`drills env up | status | down | check | describe`.

With `--environment FILE` (someone else's environment, provider external) `up` and `status`
attach rather than start, `down` forgets the handle and stops nothing, and `check` is the
preflight a DBA runs before the exercise."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from drills.errors import EXIT_FAILED
from drills.topology import local
from drills.topology.provider import attach
from drills.topology.spec import load_spec
from drills.topology.status import status


def register_images(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    im = sub.add_parser("images", help="container images for provider containers")
    im_sub = im.add_subparsers(dest="images_command", metavar="ACTION")
    im.set_defaults(func=lambda a: (im.print_help(), 2)[1])
    b = im_sub.add_parser("build", help="build drills-local/{mariadb,etcd,toxiproxy} from Debian's packages (no registry needed)")
    b.add_argument("--force", action="store_true", help="rebuild even when the tags exist")
    b.set_defaults(func=cmd_images_build)
    ls = im_sub.add_parser("list", help="the images a containers topology would use now")
    ls.add_argument("--flavor", choices=("mariadb", "mysql"), default="mariadb")
    ls.set_defaults(func=cmd_images_list)


def cmd_images_build(args: argparse.Namespace) -> int:
    from drills.topology import images

    out = images.build(force=args.force)
    if out["built"]:
        print(f"built {', '.join(out['tags'])} in {out['total_s']}s (Debian root {out['rootfs_s']}s)")
    else:
        print(f"present: {', '.join(out['tags'])} (--force rebuilds)")
    print("use them: " + " ".join(f"{k}={v}" for k, v in images.local_environment().items()))
    return 0


def cmd_images_list(args: argparse.Namespace) -> int:
    from drills.topology import images

    chosen = images.resolve(args.flavor)
    print(f"server ({args.flavor}): {chosen.server}\netcd: {chosen.etcd}\ntoxiproxy: {chosen.toxiproxy}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    register_images(sub)
    env = sub.add_parser("env", help="bring a real two-DC topology up and down")
    env_sub = env.add_subparsers(dest="env_command", metavar="ACTION")
    env.set_defaults(func=lambda a: (env.print_help(), 2)[1])

    up = env_sub.add_parser("up", help="start dc1, dc2, etcd and Toxiproxy with replication dc1 -> dc2")
    up.add_argument("--topology", metavar="FILE", help="topology YAML (defaults need no file)")
    up.add_argument("--state-dir", metavar="DIR", help=f"where the topology lives (default {local.default_state_dir()})")
    up.add_argument("--environment", metavar="FILE", help="attach to someone else's environment instead (starts nothing)")
    up.add_argument("--provider", choices=("local", "containers"), help="overrides the topology file's provider")
    up.add_argument("--json", action="store_true", help="print what `env status --json` prints")
    up.set_defaults(func=cmd_up)

    st = env_sub.add_parser("status", help="report every component from the observer path")
    st.add_argument("--state-dir", metavar="DIR")
    st.add_argument("--environment", metavar="FILE", help="someone else's environment, described in FILE")
    st.add_argument("--json", action="store_true")
    st.set_defaults(func=cmd_status)

    ck = env_sub.add_parser("check", help="preflight of an environment file: reachability, grants, link, filters, proxies",
                            description="One line per problem with its fix. Exit 0: ready to drill; 1: problems found; "
                                        "2: the file is invalid.")
    ck.add_argument("--environment", metavar="FILE", required=True)
    ck.add_argument("--json", action="store_true")
    ck.set_defaults(func=cmd_check)

    ds = env_sub.add_parser("describe", help="write the environment file of a topology drills started")
    ds.add_argument("--state-dir", metavar="DIR")
    ds.add_argument("--name", default="described", help="the environment's name (default: described)")
    ds.add_argument("--writes", choices=("all", "canary", "none"), default="all")
    ds.add_argument("--out", metavar="FILE", help="write here instead of standard output")
    ds.set_defaults(func=cmd_describe)

    dn = env_sub.add_parser("down", help="stop everything a topology started and remove its state")
    dn.add_argument("--state-dir", metavar="DIR")
    dn.add_argument("--environment", metavar="FILE", help="someone else's environment: forget it (stops nothing)")
    dn.add_argument("--all", action="store_true", help="every topology this user started (also crashed ones)")
    dn.add_argument("--keep", action="store_true", help="keep the state directory (logs, data)")
    dn.set_defaults(func=cmd_down)


def _state_dir(args: argparse.Namespace) -> Path:
    return Path(args.state_dir) if args.state_dir else local.default_state_dir()


def cmd_up(args: argparse.Namespace) -> int:
    t0 = time.monotonic()
    progress = None if args.json else (lambda msg: print(f"  {msg}", file=sys.stderr))
    if args.environment:
        from drills.topology.environment import load_environment
        from drills.topology.external import ExternalProvider

        provider = ExternalProvider(load_environment(args.environment))
        topo = provider.up(None, Path(args.state_dir) if args.state_dir else provider.state_dir(),
                           progress or (lambda _msg: None))
    else:
        spec = load_spec(args.topology)
        if args.provider:
            spec = spec.model_copy(update={"provider": args.provider})
        if spec.provider == "containers":
            from drills.topology import containers

            topo = containers.up(spec, _state_dir(args), progress=progress)
        else:
            topo = local.up(spec, _state_dir(args), progress=progress)
    doc = status(topo)
    doc["boot_s"] = round(time.monotonic() - t0, 3)
    _print(doc, args.json)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    if args.environment:
        from drills.topology.external import attach_file

        topo = attach_file(args.environment)[1]
    else:
        topo = attach(_state_dir(args))
    doc = status(topo)
    _print(doc, args.json)
    healthy = all(s.get("up") for s in doc["servers"].values()) and doc["routing"].get("up") and doc["toxiproxy"].get("up")
    return 0 if healthy else EXIT_FAILED


def cmd_check(args: argparse.Namespace) -> int:
    from drills.topology.preflight import preflight, print_report

    report = preflight(args.environment)
    print_report(report, as_json=args.json)
    return 0 if not report["problems"] else EXIT_FAILED


def cmd_describe(args: argparse.Namespace) -> int:
    from drills.topology.describe import PASSWORD_VARIABLES, describe, render

    topo = attach(_state_dir(args))
    text = render(describe(topo, args.name, writes=args.writes))
    if args.out:
        Path(args.out).write_text(text)
        print(f"wrote {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    print("export " + " ".join(PASSWORD_VARIABLES.values()) + f" (their values are in {topo.state_dir}/credentials.json)",
          file=sys.stderr)
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    if args.environment:
        from drills.topology.environment import load_environment
        from drills.topology.external import ExternalProvider

        provider = ExternalProvider(load_environment(args.environment))
        r = provider.down(Path(args.state_dir) if args.state_dir else None)
        print(f"{r['state_dir']}: forgotten (nothing stopped: the environment is not drills' own)")
        return 0
    if args.all:
        from drills.topology import containers

        results = containers.down_all(keep=args.keep) + local.down_all(keep=args.keep)
    else:
        results = [_down_one(_state_dir(args), keep=args.keep)]
    for r in results:
        what = f"stopped {len(r['stopped'])} process(es)" + (f", {len(r['killed'])} killed" if r["killed"] else "")
        print(f"{r['state_dir']}: {what}{', removed' if r['removed'] else ''}")
    if not results:
        print("no topologies found")
    return 0


def _down_one(state_dir: Path, *, keep: bool) -> dict[str, Any]:
    """Through the provider that started it (containers are removed by label, processes by
    pid); a state directory without its state.json is cleaned as the local provider would."""
    provider = "local"
    try:
        provider = json.loads((state_dir / "state.json").read_text()).get("provider", "local")
    except (OSError, ValueError):
        pass
    if provider == "containers":
        from drills.topology import containers

        return containers.down(state_dir, keep=keep)
    return local.down(state_dir, keep=keep)


def _print(doc: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(doc, indent=2, sort_keys=True, default=str))
        return
    print(f"state: {doc['state_dir']}  ({doc['provider']}, {doc['flavor']})" + (f"  up in {doc['boot_s']}s" if "boot_s" in doc else ""))
    for dc, s in doc["servers"].items():
        if not s.get("up"):
            print(f"  {dc}: DOWN  {s.get('error', '')}")
            continue
        line = f"  {dc}: up  {s['version']}  {s['host']}:{s['port']}  read_only={s['read_only']}  gtid={s['gtid_executed'] or '-'}"
        print(line)
        r = s.get("replication")
        if r:
            print(f"      replica of {r['source']} via {r['source_address']}: io={r['io_state']} sql={'Yes' if r['sql_running'] else 'No'}"
                  f" lag={r['lag_s']}s")
            f = r["filters"]
            print(f"      effective filters: ignore={','.join(f['ignore_tables']) or '-'}  wild={','.join(f['wild_ignore_tables']) or '-'}")
            if r["last_io_error"] or r["last_sql_error"]:
                print(f"      error: {r['last_io_error'] or r['last_sql_error']}")
    d = doc["declared_filters"]
    print(f"  declared filters ({doc['filter_list_file']}): ignore={','.join(d['ignore_tables'])}  wild={','.join(d['wild_ignore_tables'])}")
    rt = doc["routing"]
    if rt.get("up"):
        print(f"  routing {rt['key']} rev {rt['revision']}: {json.dumps(rt['document'], sort_keys=True)}")
    else:
        print(f"  routing: DOWN  {rt.get('error', '')}")
    for name, px in doc["proxies"].items():
        tox = ", ".join(t["type"] for t in px["toxics"]) or "no toxics"
        print(f"  proxy {name:14} {px['listen']} -> {px['upstream']}  {'enabled' if px['enabled'] else 'DISABLED'}  {tox}")
    if not doc["toxiproxy"].get("up"):
        print(f"  toxiproxy: DOWN  {doc['toxiproxy'].get('error', '')}")
