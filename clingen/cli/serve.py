"""`clingen serve`: trained classifiers (and optionally the generator) over HTTP on this machine, until Ctrl-C."""

from __future__ import annotations

import argparse
import signal
import threading


def add_parser(sub: argparse._SubParsersAction) -> None:
    cmd = sub.add_parser("serve", help="serve trained models (and optionally the generator) over HTTP on a fresh "
                         "local Ray instance until Ctrl-C")
    cmd.add_argument("--model", action="append", default=[], metavar="[NAME=]DIR",
                     help="a `clingen train --out` folder, named by its task unless NAME= is given; repeatable")
    cmd.add_argument("--generator", nargs="?", const="embedded:smollm2-135m-instruct", default=None,
                     metavar="SOURCE", help="also serve the generator (OpenAI-compatible /v1) from SOURCE "
                     "(default: the embedded SmolLM2)")
    cmd.add_argument("--host", default="127.0.0.1", help="address to bind (0.0.0.0 accepts remote clients)")
    cmd.add_argument("--port", type=int, default=8000, help="HTTP port")
    cmd.add_argument("--replicas", type=int, default=1, help="classifier replicas")
    cmd.add_argument("--num-cpus", type=int, default=4, help="logical CPUs of the local Ray instance")
    cmd.set_defaults(handler=_serve)


def _serve(args: argparse.Namespace) -> int:
    from clingen.serving.local import parse_models, start_services, stop_services
    models = parse_models(args.model)  # before Ray starts: a wrong folder is one error line
    # SIGTERM as Ctrl-C, and both at any time: also while start_services still waits for a deployment (the
    # generator's engine takes a minute on a CPU), which a flag checked only after start-up would not stop.
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    try:
        urls = start_services(models, args.host, args.port, args.replicas, args.num_cpus, args.generator)
        for name in models:
            print(f"{name}: POST {urls['classifiers']}/v1/models/{name}/predict", flush=True)
        if "generator" in urls:
            print(f"generator: {urls['generator']}/chat/completions (model clingen-generator)", flush=True)
        print("serving; Ctrl-C stops", flush=True)
        threading.Event().wait()  # until a signal raises KeyboardInterrupt here
    except KeyboardInterrupt:
        pass
    finally:
        stop_services()
    return 0


def _interrupt(*_) -> None:
    raise KeyboardInterrupt
