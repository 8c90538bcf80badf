"""main.py's input through a tf.data service (--data_service): a dispatcher and two workers,
in this process or started as users start them on other hosts (python -m dataloader.service),
make an epoch of the samples the run makes without them."""
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from dataloader.config import FIRST_SECOND, RECORDING, LoaderConfig
from tests.test_main import _run_main

REPO = Path(__file__).resolve().parents[1]
SUPERVISED = ["--model", "DualCamHybridNet", "--sample_length", "1", "--number_of_crops", "2", "--batch_size", "4",
              "--num_epochs", "1", "--verbose", "0", "--nostandardise_acoustic_images"]


@pytest.fixture
def service():
    """A dispatcher and two workers in this process."""
    data_service = tf.data.experimental.service
    dispatcher = data_service.DispatchServer()
    address = dispatcher.target.split("://")[1]
    workers = [data_service.WorkerServer(data_service.WorkerConfig(dispatcher_address=address)) for _ in range(2)]
    yield dispatcher.target
    for server in (*workers, dispatcher):
        server.stop()


def _samples(batches) -> list[dict]:
    out = [{key: value[i].numpy() for key, value in batch.items()}
           for batch in batches for i in range(batch[FIRST_SECOND].shape[0])]
    # The window, then its contents: two crops of one window differ only in their mirroring.
    return sorted(out, key=lambda sample: (sample[RECORDING], int(sample[FIRST_SECOND]),
                                           sample["acoustic_image"].tobytes()))


def test_an_epoch_through_the_service_holds_the_samples_of_the_epoch_without_it(simulated_acivw, service,
                                                                              tmp_path):
    from trainer import data
    from trainer.config import RunConfig

    config = RunConfig(train_file=simulated_acivw["train_file"], batch_size=4)
    loader = LoaderConfig("acivw", ("acoustic_image", "audio"), sample_length=1, total_length=3, number_of_crops=2,
                          training=True, mirror=True, seed=3)
    local = _samples(data.dataset(config.train_file, loader, config, epoch=2, metadata=True))
    served = _samples(data.dataset(config.train_file, loader, config.replace(data_service=service), epoch=2,
                                   metadata=True))
    cached = _samples(data.dataset(config.train_file, loader, config.replace(data_service=service,
                                                                             input_cache=str(tmp_path)),
                                   epoch=2, metadata=True))
    assert len(served) == len(cached) == len(local) == 12  # 6 recordings of one 3-s block, 2 crops each
    for want, got, from_cache in zip(local, served, cached):
        for key in want:
            np.testing.assert_array_equal(got[key], want[key], err_msg=key)
            np.testing.assert_array_equal(from_cache[key], want[key], err_msg=key)


def test_main_trains_an_epoch_through_the_service(simulated_acivw, service, tmp_path):
    common = [*SUPERVISED, "--train_file", simulated_acivw["train_file"], "--checkpoint_dir", str(tmp_path)]
    local = _run_main([*common, "--exp_name", "local"])
    served = _run_main([*common, "--exp_name", "served", "--data_service", service])
    assert served["steps"] == local["steps"] > 0
    assert np.isfinite(served["logs"]["loss"])


@pytest.mark.parametrize("flags, message", [
    (["--data_service", "localhost"], "--data_service: 'localhost' is not a dispatcher address"),
    (["--data_service", "grpc://localhost:5050", "--deterministic"], "--data_service, --deterministic: "),
    (["--data_service_job", "shared"], "--data_service_job: needs --data_service"),
])
def test_service_flags_are_checked(simulated_acivw, tmp_path, capsys, flags, message):
    import main

    main.FLAGS.unparse_flags()
    main.FLAGS(["main.py", *SUPERVISED, "--train_file", simulated_acivw["train_file"], "--checkpoint_dir",
                str(tmp_path), *flags])
    assert main.main([]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith(f"main.py: error: {message}")
    assert not list(tmp_path.iterdir())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow  # three processes importing TensorFlow: a minute on two busy cores
def test_servers_started_as_on_other_hosts_make_the_samples(simulated_acivw):
    from dataloader.config import Throughput
    from dataloader.pipeline import make_dataset

    port = _free_port()
    commands = [["dispatcher", "--port", str(port)]]
    commands += [["worker", "--dispatcher", f"localhost:{port}", "--port", str(p), "--address", f"localhost:{p}"]
                 for p in (_free_port(), _free_port())]
    servers = [subprocess.Popen([sys.executable, "-m", "dataloader.service", *command], cwd=REPO, text=True,
                                stderr=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(REPO)})
               for command in commands]
    try:
        for server in servers:
            assert "serving on port" in server.stderr.readline()
        loader = LoaderConfig("acivw", ("audio",), sample_length=3)
        served = make_dataset(simulated_acivw["valid_file"], loader, Throughput(service_address=f"grpc://localhost:"
                                                                                               f"{port}"),
                              batch_size=2)
        local = make_dataset(simulated_acivw["valid_file"], loader, batch_size=2)
        assert sorted(r.decode() for b in served for r in b[RECORDING].numpy()) == sorted(
            r.decode() for b in local for r in b[RECORDING].numpy())
    finally:
        for server in servers:
            server.terminate()
        deadline = time.time() + 30
        for server in servers:
            try:
                server.wait(timeout=max(1.0, deadline - time.time()))
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
    assert [server.returncode for server in servers] == [0, 0, 0]  # each stopped by SIGTERM, cleanly
