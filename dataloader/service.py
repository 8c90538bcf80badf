"""Starts a tf.data service dispatcher or worker, which make main.py's samples on other
hosts (`--data_service`).

    # one dispatcher, anywhere the trainers and the workers can reach
    python -m dataloader.service dispatcher --port 5050
    # a worker on each host that makes samples; it reads the lists' records (and the input
    # cache) at the paths the trainer names, so they must be mounted there
    python -m dataloader.service worker --dispatcher HOST:5050 --port 5051
    # then train as usual, the input pipeline sent to the service
    python main.py --data_service grpc://HOST:5050 ...

The workers split each epoch's windows among themselves (dynamic sharding), each made
once; the trainer batches them. A server runs until it is stopped (Ctrl-C, SIGTERM).
"""
from __future__ import annotations

import argparse
import signal
import socket
import sys
import time

import logger.quiet  # noqa: F401  (before tensorflow is imported)


def serve(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dataloader.service", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    roles = parser.add_subparsers(dest="role", required=True)
    dispatcher = roles.add_parser("dispatcher", help="the service's dispatcher")
    dispatcher.add_argument("--port", type=int, default=5050)
    dispatcher.add_argument("--work_dir", help="where the dispatcher journals its state, to survive a restart")
    worker = roles.add_parser("worker", help="a worker that makes samples")
    worker.add_argument("--dispatcher", required=True, help="the dispatcher's HOST:PORT")
    worker.add_argument("--port", type=int, default=5051)
    worker.add_argument("--address", help="HOST:PORT the trainers reach this worker at (default: this host's name "
                                          "and --port)")
    args = parser.parse_args(argv)

    import tensorflow as tf

    service = tf.data.experimental.service
    try:
        if args.role == "dispatcher":
            server = service.DispatchServer(service.DispatcherConfig(
                port=args.port, work_dir=args.work_dir, fault_tolerant_mode=args.work_dir is not None))
        else:
            server = service.WorkerServer(service.WorkerConfig(
                dispatcher_address=args.dispatcher.removeprefix("grpc://"), port=args.port,
                worker_address=args.address or f"{socket.getfqdn()}:{args.port}"))
    except (tf.errors.OpError, ValueError) as err:
        parser.exit(1, f"{parser.prog}: error: cannot start the {args.role}: {getattr(err, 'message', err)}\n")
    print(f"{args.role} serving on port {args.port}", file=sys.stderr, flush=True)
    # Not server.join(): Python's signal handlers run only between its own steps.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(serve())
