"""The generation progress line: what it says, and that off a terminal it prints plain lines at a set pace."""

import io

import pytest

from clingen.cli.console import GenerationProgress, TrainingProgress
from clingen.generation.job import RunCounters

pytestmark = pytest.mark.unit


def test_off_a_terminal_progress_is_plain_lines_with_rows_examples_and_the_failure_mix():
    stream = io.StringIO()
    counters = RunCounters()
    with GenerationProgress("ncbi-disease", stream=stream, every_s=0) as progress:
        for row in range(3):
            counters.rows += 1
            counters.examples += row % 2
            counters.failures["too_short"] = counters.failures.get("too_short", 0) + 1 - row % 2
            progress.update(counters, todo=3)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 3 and lines[0].startswith("ncbi-disease: 1/3 rows | 0 examples | ")
    assert lines[-1].startswith("ncbi-disease: 3/3 rows | 1 examples | ") and lines[-1].endswith("| too_short 2")


def test_request_errors_are_shown_and_a_slow_pace_prints_once():
    stream = io.StringIO()
    counters = RunCounters(rows=1, generation_errors=2)
    with GenerationProgress("gad", stream=stream, every_s=3600) as progress:
        progress.update(counters, todo=10)
        progress.update(counters, todo=10)
    assert stream.getvalue().count("\n") == 1 and "| 2 request errors" in stream.getvalue()


def test_off_a_terminal_the_line_says_the_time_left_at_the_rate_since_the_first_row():
    progress = GenerationProgress("ncbi-disease", stream=io.StringIO())
    progress._started -= 3000  # a long start-up does not count
    assert progress.time_left(0, 210) == "" and progress.time_left(10, 210) == ""  # no rate before the first row
    first_at, rows = progress._first_row
    assert rows == 10
    progress._first_row = (first_at - 100, 10)  # 100 s since the first row
    assert progress.time_left(60, 210) == " | ~5m00s left"  # 50 rows in 100 s, 150 to go
    assert progress.time_left(200, 210) == " | ~5s left"
    assert progress.time_left(210, 210) == ""


def training_record(**changes):
    record = {"stage": "synthetic", "stage_index": 1, "stages": 2, "epoch": 2, "epochs": 7, "stage_steps": 120,
              "total_steps": 300, "loss": 0.41234}
    return {**record, **changes}


def test_training_progress_off_a_terminal_names_stage_epoch_steps_and_loss():
    stream = io.StringIO()
    with TrainingProgress("ncbi-disease", stream=stream, every_s=0) as progress:
        progress.update(training_record())
        progress.update(training_record(stage="fewshot", stage_index=0, total_steps=None, stage_steps=4, epochs=5,
                                        epoch=0))
    lines = stream.getvalue().splitlines()
    assert lines == ["ncbi-disease training: synthetic (stage 2/2) | epoch 3/7 | step 120/300 | loss 0.4123",
                     "ncbi-disease training: fewshot (stage 1/2) | epoch 1/5 | step 4 | loss 0.4123"]


def test_library_logs_route_info_to_stdout_and_warnings_to_stderr_once(capsys):
    import logging

    from clingen.cli.console import route_library_logs
    route_library_logs()
    route_library_logs()  # idempotent: one handler, one line per record
    logging.getLogger("clingen.pipeline").info("[train] done in %ds", 12)
    logging.getLogger("clingen.generation").warning("could not make %s private", "/x/auth_token")
    logging.getLogger("clingen.pipeline").debug("not shown")
    out, err = capsys.readouterr()
    assert out == "[train] done in 12s\n"
    assert err == "clingen: warning: could not make /x/auth_token private\n"


def test_stdout_written_during_a_run_goes_to_stderr_and_the_summary_after_it_to_stdout(capsys):
    import threading

    from clingen.cli.console import diagnostics_on_stderr
    with diagnostics_on_stderr():
        # as Ray's error-listener thread prints the raylet's warnings: sys.stdout looked up at write time
        thread = threading.Thread(target=lambda: print("(raylet) WARNING: 26 PYTHON worker processes"))
        thread.start()
        thread.join()
    print('{"task": "ncbi-disease"}')
    captured = capsys.readouterr()
    assert captured.out == '{"task": "ncbi-disease"}\n'
    assert captured.err == "(raylet) WARNING: 26 PYTHON worker processes\n"
