import pytest

from clingen.config import ClinGenConfig, load_config
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


def test_config_hash_ignores_output_location():
    a = load_config(overrides=["generation.out=/tmp/a"])
    b = load_config(overrides=["generation.out=/tmp/b"])
    c = load_config(overrides=["seed=1"])
    d = load_config(overrides=["training.epochs=9"])
    assert a.config_hash() == b.config_hash() == d.config_hash() != c.config_hash()
    assert d.config_hash(("training",)) != a.config_hash(("training",))


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
