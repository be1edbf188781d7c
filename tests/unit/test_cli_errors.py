"""Expected failures of the command line are one `clingen: error:` line naming the bad value (exit 2), found
before Ray starts; output folders holding files a command did not write are never replaced."""

from pathlib import Path

import pytest

from clingen._outputs import check_output_folder
from clingen.cli import main, run_handler
from clingen.errors import ConfigError
from tests.integration.synthetic_sets import ner_records, relation_records, write_generation_output

pytestmark = pytest.mark.unit


def run_cli(capsys, *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    err = capsys.readouterr().err
    return code, err


def one_error_line(err: str) -> str:
    assert err.startswith("clingen: error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    return err.strip()


def test_malformed_yaml_config_names_the_file_and_place(capsys, tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text("task: ncbi-disease\ngeneration: {n: [1\n")
    code, err = run_cli(capsys, "prompts", "preview", "--config", str(config))
    assert code == 2
    assert one_error_line(err).startswith(f"clingen: error: config file {config} is not valid YAML: line 3, column 1")


def test_malformed_override_value_names_the_override(capsys):
    code, err = run_cli(capsys, "prompts", "preview", "--task", "ncbi-disease", "--set", "generation.n=[1")
    assert code == 2
    assert "override 'generation.n=[1': the value is not valid YAML" in one_error_line(err)


def test_a_config_that_is_a_folder_or_not_utf8_is_named(capsys, tmp_path):
    code, err = run_cli(capsys, "prompts", "preview", "--config", str(tmp_path))
    assert code == 2 and one_error_line(err) == f"clingen: error: config file {tmp_path} is a folder; expected a YAML file"
    latin1 = tmp_path / "latin1.yaml"
    latin1.write_bytes("task: ncbi-disease  # Sj\xf6gren\n".encode("latin-1"))
    code, err = run_cli(capsys, "prompts", "preview", "--config", str(latin1))
    assert code == 2 and f"config file {latin1} is not UTF-8 (byte 24: invalid start byte)" in one_error_line(err)


def test_malformed_task_file_names_the_file(capsys, tmp_path):
    tasks = tmp_path / "tasks.yaml"
    tasks.write_text("- name: x\n  family: [ner\n")
    code, err = run_cli(capsys, "prompts", "preview", "--task", "x", "--set", f"task_file={tasks}")
    assert code == 2 and f"task file {tasks} is not valid YAML: line 3" in one_error_line(err)


def test_output_folder_rules(tmp_path):
    assert check_output_folder(tmp_path / "new", "model_card.json", "clingen train") == tmp_path / "new"
    (tmp_path / "empty").mkdir()
    check_output_folder(tmp_path / "empty", "model_card.json", "clingen train")
    (tmp_path / "previous").mkdir()
    (tmp_path / "previous" / "model_card.json").write_text("{}")
    check_output_folder(tmp_path / "previous", "model_card.json", "clingen train")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("years of work")
    with pytest.raises(ConfigError, match=r"holds files that clingen train did not write \(thesis.tex\)"):
        check_output_folder(tmp_path / "mine", "model_card.json", "clingen train")
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(ConfigError, match="a-file is a file"):
        check_output_folder(tmp_path / "a-file", "model_card.json", "clingen train")
    with pytest.raises(ConfigError, match=r"is under .*a-file, which is a file"):
        check_output_folder(tmp_path / "a-file" / "model", "model_card.json", "clingen train")


def test_train_refuses_a_folder_of_foreign_files_before_ray_and_keeps_them(capsys, tmp_path):
    run = tmp_path / "run"
    write_generation_output(str(run), "ncbi-disease", ner_records(8))
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    code, err = run_cli(capsys, "train", "--task", "ncbi-disease", "--train", str(run), "--out", str(out))
    assert code == 2 and "holds files that clingen train did not write (notes.txt)" in one_error_line(err)
    assert (out / "notes.txt").read_text() == "keep me"


def test_train_refuses_an_empty_set_and_a_set_of_another_task_before_ray(capsys, tmp_path):
    import ray
    ray_was_up = ray.is_initialized()  # in a full `pytest tests` run the integration session may hold one
    empty = tmp_path / "empty"
    write_generation_output(str(empty), "ncbi-disease", [], rejected_rows=3)
    code, err = run_cli(capsys, "train", "--task", "ncbi-disease", "--train", str(empty), "--out", str(tmp_path / "m"))
    assert code == 2 and f"--train {empty} has no examples" in one_error_line(err)
    gad = tmp_path / "gad"
    write_generation_output(str(gad), "gad", relation_records(8))
    code, err = run_cli(capsys, "train", "--task", "ncbi-disease", "--train", str(gad), "--out", str(tmp_path / "m"))
    assert code == 2 and f"--train {gad} is a run of task 'gad'; this training is for task 'ncbi-disease'" in (
        one_error_line(err))
    assert ray.is_initialized() == ray_was_up and not (tmp_path / "m").exists()


def test_an_out_under_a_file_is_one_line(capsys, tmp_path):
    (tmp_path / "a-file").write_text("x")
    code, err = run_cli(capsys, "generate", "--task", "ncbi-disease", "--n", "2", "--out",
                        str(tmp_path / "a-file" / "run"))
    assert code == 2 and "a-file" in one_error_line(err)


def test_an_unexpected_error_is_one_line_naming_the_file_that_holds_its_traceback(capsys):
    def broken_handler(args):
        return {"counts": {}}["rows_done"]

    code = run_handler(broken_handler, None)
    line = one_error_line(capsys.readouterr().err)
    assert code == 1 and line.startswith("clingen: error: unexpected KeyError: 'rows_done' (full traceback: ")
    saved = Path(line.rsplit("full traceback: ", 1)[1].rstrip(")"))
    traceback_text = saved.read_text()
    assert traceback_text.startswith("Traceback (most recent call last):") and "in broken_handler" in traceback_text
    assert traceback_text.rstrip().endswith("KeyError: 'rows_done'")
    saved.unlink()


def test_expected_failures_of_a_handler_exit_2_with_the_message(capsys):
    def refusing_handler(args):
        raise ConfigError("generation.n=0: expected a positive number of prompt rows")

    assert run_handler(refusing_handler, None) == 2
    assert one_error_line(capsys.readouterr().err) == "clingen: error: generation.n=0: expected a positive number of prompt rows"
