import pytest

from clingen.config import field_kind, ClinGenConfig, load_config
from clingen.errors import ConfigError, UnknownNameError
from clingen.tasks.registry import builtin_tasks, get_task, load_task_file

pytestmark = pytest.mark.unit


def test_defaults_and_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("task: gad\ngeneration:\n  n: 50\n")
    config = load_config(path, ["generation.n=70", "prompts.strategy=few-shot", "generator.engine_kwargs={a: 1}"])
    assert (config.task, config.generation.n, config.prompts.strategy) == ("gad", 70, "few-shot")
    assert config.generator.engine_kwargs == {"a": 1}


def test_unknown_keys_and_bad_values_are_named(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("generation:\n  n: 10\n  shards: 3\n")
    with pytest.raises(ConfigError, match=r"generation.shards: Extra inputs are not permitted"):
        load_config(path)
    with pytest.raises(ConfigError, match=r"prompts.strategy: Input should be 'clingen-kg', .* \(got 'magic'\)"):
        load_config(overrides=["prompts.strategy=magic"])
    with pytest.raises(ConfigError, match=r"override 'generation.n' is not of the form key.path=value"):
        load_config(overrides=["generation.n"])
    with pytest.raises(ConfigError, match=r"config file .*missing.yaml does not exist"):
        load_config(tmp_path / "missing.yaml")
    with pytest.raises(ConfigError, match=r"kg.source='triples' needs kg.path"):
        load_config(overrides=["kg.source=triples"])


def test_every_field_is_described():
    def walk(model):
        for name, field in model.model_fields.items():
            assert field.description, f"{model.__name__}.{name} has no description"
            annotation = field.annotation
            if isinstance(annotation, type) and hasattr(annotation, "model_fields"):
                walk(annotation)
    walk(ClinGenConfig)


def test_every_field_says_whether_it_changes_the_output():
    # A new field declared with a plain Field fails here: decide whether it can change a step's output
    # (DataField: in every fingerprint) or only where and how a step runs (RunField).
    def walk(model, prefix=""):
        for name, field in model.model_fields.items():
            kind = field_kind(model, name)
            assert kind in (True, False, "section"), f"{prefix}{name} is declared with a plain Field"
            annotation = field.annotation
            is_section = isinstance(annotation, type) and hasattr(annotation, "model_fields")
            assert (kind == "section") == is_section, f"{prefix}{name}: Section() is for nested sections only"
            if is_section:
                walk(annotation, f"{prefix}{name}.")
    walk(ClinGenConfig)


RUN_SETTINGS = ["generation.out=/tmp/elsewhere", "generator.replicas=4", "generator.batch_size=3",
                "generator.max_concurrent_batches=2", "generator.http_concurrency=9", "generator.max_row_errors=0.5",
                "generation.shard_rows=7", "cluster.num_cpus=3", "cluster.address=auto",
                "generator.device=gpu", "generator.tensor_parallel_size=2", "generator.replica_resources={g: 1}",
                "cluster.local_paths_are_shared=true", "generator.model.tokenizer_for_counting=o200k_base"]
DATA_SETTINGS = ["seed=1", "prompts.n_demos=1", "generator.model.source=/models/other", "kg.source=triples",
                 "generator.model.sampling.temperature=0.2", "generation.min_words=3", "task=gad",
                 "generator.engine_kwargs={quantization: fp8}", "generation.require_topic=false"]


@pytest.mark.parametrize("setting", RUN_SETTINGS)
def test_scale_and_placement_settings_leave_the_dataset_fingerprint_unchanged(setting):
    assert load_config(overrides=[setting]).dataset_fingerprint() == load_config().dataset_fingerprint()


@pytest.mark.parametrize("setting", DATA_SETTINGS)
def test_settings_that_change_the_rows_change_the_dataset_fingerprint(setting):
    extra = ["kg.path=/tmp/triples.tsv"] if setting.startswith("kg.") else []
    assert load_config(overrides=[setting, *extra]).dataset_fingerprint() != load_config().dataset_fingerprint()


def test_n_grows_a_dataset_but_keys_a_pipeline_result():
    small, large = load_config(overrides=["generation.n=600"]), load_config(overrides=["generation.n=5000"])
    assert small.dataset_fingerprint() == large.dataset_fingerprint()
    assert small.config_hash() != large.config_hash()  # a pipeline's generate step of 600 rows is not one of 5000


def test_config_hash_ignores_output_location():
    a = load_config(overrides=["generation.out=/tmp/a"])
    b = load_config(overrides=["generation.out=/tmp/b"])
    c = load_config(overrides=["seed=1"])
    d = load_config(overrides=["training.epochs=9"])
    e = load_config(overrides=["training.storage_path=/tmp/x", "training.keep_checkpoints=5"])
    assert a.config_hash() == b.config_hash() == d.config_hash() != c.config_hash()
    assert d.config_hash(("training",)) != a.config_hash(("training",)) == e.config_hash(("training",))


def test_sixteen_builtin_tasks_in_seven_families():
    tasks = builtin_tasks()
    assert len(tasks) == 16
    assert {name: t.family for name, t in tasks.items() if t.family != "pair"} == {
        "litcovid": "classification", "hoc": "classification", "gad": "relation", "cdr": "relation",
        "chemprot": "relation", "bc5cdr-chemical": "ner", "bc5cdr-disease": "ner", "ncbi-disease": "ner",
        "chemdner": "ner", "casi": "attribute"}
    assert tasks["gad"].label("Has_relation").description == "the sentence indicates that the disease has interaction with gene"
    # ChemProt's definitions follow its guidelines: CPR:4 covers inhibitors, CPR:9 substrates and products.
    assert "inhibits the protein (an inhibitor)" in tasks["chemprot"].label("Downregulator").description
    assert "substrate or a product" in tasks["chemprot"].label("Product_of").description
    assert "not proteins, genes" in tasks["bc5cdr-chemical"].labels[0].description
    assert tasks["mqp"].label("equivalent").description.startswith("the two questions ask the same thing")


def test_label_names_match_the_reference_label_files(shared_dir):
    for path in sorted((shared_dir / "data/eval/clingen-labels").glob("*.label.txt")):
        names = [line.strip() for line in path.read_text().splitlines() if line.strip()]
        assert sorted(get_task(path.name.split(".")[0]).label_names) == sorted(names), path.name


def test_user_task_file(tmp_path):
    path = tmp_path / "tasks.yaml"
    path.write_text("""
- name: radiology-findings
  family: classification
  domain: radiology reports
  styles: [radiology report]
  labels:
    - {name: normal, description: no abnormal finding, topics: {kind: entity, entity_types: [anatomy]}}
    - {name: abnormal, description: an abnormal finding, topics: {kind: llm}}
""")
    spec = get_task("radiology-findings", path)
    assert spec.label_names == ["normal", "abnormal"]
    path.write_text("- name: bad\n  family: poetry\n  domain: x\n  styles: [a]\n  labels: []\n")
    with pytest.raises(ConfigError, match=r"task bad in .*tasks.yaml is invalid"):
        load_task_file(path)
    with pytest.raises(UnknownNameError, match=r"unknown task 'nope'; known: bc5cdr-chemical"):
        get_task("nope")
