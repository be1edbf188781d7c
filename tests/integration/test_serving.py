"""Trained models served by Ray Serve on 127.0.0.1 and called over real HTTP."""

import json
import os

import pytest
import requests

from clingen.config import load_config
from clingen.errors import ConfigError
from clingen.training.predict import Predictor
from clingen.training.run import run_training
from tests.integration.conftest import free_port
from tests.integration.synthetic_sets import ner_records, relation_records, write_generation_output

pytestmark = [pytest.mark.integration, pytest.mark.slow]
TOKEN = "test-token-123"


def train_tiny(task: str, records, tmp_path) -> str:
    train_dir = str(tmp_path / f"{task}-data")
    write_generation_output(train_dir, task, records)
    config = load_config(overrides=[f"task={task}", "training.num_workers=1", "training.epochs=1",
                                    "training.batch_size=8", "training.max_length=32",
                                    f"training.storage_path={tmp_path / 'ray'}"])
    run_training(config, train_dir, None, tmp_path / f"{task}-model")
    return str(tmp_path / f"{task}-model")


@pytest.fixture(scope="module")
def service(ray_local, tmp_path_factory):
    from ray import serve

    from clingen.serving.classifier_app import build_app
    tmp_path = tmp_path_factory.mktemp("serving")
    models = {"ncbi": train_tiny("ncbi-disease", ner_records(32), tmp_path),
              "gad": train_tiny("gad", relation_records(32), tmp_path)}
    port = free_port()
    os.environ["CLINGEN_SERVE_TOKEN"] = TOKEN  # replicas inherit the driver's environment locally
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    serve.run(build_app({"models": models, "max_inputs": 4, "max_chars": 200}), name="classifiers",
              route_prefix="/")
    yield f"http://127.0.0.1:{port}", models
    serve.delete("classifiers")
    os.environ.pop("CLINGEN_SERVE_TOKEN", None)


def call(method: str, url: str, **kwargs):
    headers = {"Authorization": f"Bearer {TOKEN}", **kwargs.pop("headers", {})}
    return requests.request(method, url, headers=headers, timeout=60, **kwargs)


def test_predictions_over_http_equal_offline_predictions(service):
    base, models = service
    texts = ["Patients with asthma often report cough.", "A history of gout increases the risk of stroke."]
    response = call("POST", f"{base}/v1/models/ncbi/predict", json={"inputs": [{"text": t} for t in texts]})
    assert response.status_code == 200, response.text
    offline = Predictor.load(models["ncbi"]).predict_entities(texts)
    assert response.json()["predictions"] == json.loads(json.dumps(offline))
    for prediction, text in zip(response.json()["predictions"], texts):
        for entity in prediction["entities"]:
            assert text[entity["start"]:entity["end"]] == entity["text"]

    items = [("BRCA1 variants are associated with breast cancer risk.", "BRCA1", "breast cancer"),
             ("@GENE$ polymorphisms were not linked to @DISEASE$.", None, None)]
    response = call("POST", f"{base}/v1/models/gad/predict",
                    json={"inputs": [{"text": t, "head": h, "tail": x} for t, h, x in items]})
    assert response.status_code == 200, response.text
    assert response.json()["predictions"] == json.loads(json.dumps(Predictor.load(models["gad"]).predict_relations(items)))
    assert response.json()["predictions"][0]["label"] in ("Has_relation", "No_relation")


def test_model_listing_cards_health_and_openapi(service):
    base, _ = service
    assert requests.get(f"{base}/healthz", timeout=30).json() == {"status": "ok", "models": ["gad", "ncbi"]}
    listing = call("GET", f"{base}/v1/models").json()["models"]
    assert [(m["name"], m["family"]) for m in listing] == [("gad", "relation"), ("ncbi", "ner")]
    card = call("GET", f"{base}/v1/models/gad").json()["card"]
    assert card["task"] == "gad" and card["labels"] == ["Has_relation", "No_relation"]
    assert "/v1/models/{name}/predict" in call("GET", f"{base}/openapi.json").json()["paths"]
    assert call("GET", f"{base}/docs").status_code == 200
    for path in ("/openapi.json", "/docs", "/redoc"):  # the documentation is behind the token too
        assert requests.get(f"{base}{path}", timeout=30).status_code == 401, path


def test_long_inputs_are_truncated_and_say_so(service):
    base, _ = service
    text = "flu " * 45  # 180 characters: under the request limit, 45 words over the model's 32 tokens
    prediction = call("POST", f"{base}/v1/models/ncbi/predict", json={"inputs": [{"text": text}]}).json()
    assert prediction["predictions"][0]["truncated"] is True


@pytest.mark.parametrize("kwargs, status, reason", [
    ({"data": "{not json", "headers": {"Content-Type": "application/json"}}, 422, "JSON decode error"),
    ({"json": {}}, 422, "inputs"),
    ({"json": {"inputs": "asthma"}}, 422, "inputs"),
    ({"json": {"inputs": [{"text": 42}]}}, 422, "string"),
    ({"json": {"inputs": []}}, 422, "at least 1 item"),
    ({"json": {"inputs": [{"text": "   "}]}}, 422, "inputs[0].text is empty"),
    ({"json": {"inputs": [{"text_a": "a", "text_b": "b"}]}}, 422, "inputs[0].text is required for a ner model"),
    ({"json": {"inputs": [{"text": "x" * 201}]}}, 413, "has 201 characters; the limit is 200"),
    ({"json": {"inputs": [{"text": "a"}] * 5}}, 413, "5 inputs in one request; the limit is 4"),
    ({"json": {"inputs": [{"text": "a"}], "extra": 1}}, 422, "extra"),
    # Inputs FastAPI's default error answer could not write as JSON (it quotes them): these were 500s.
    ({"data": '{"inputs": [{"text": "asthma \\ud800"}]}', "headers": {"Content-Type": "application/json"}}, 422,
     "inputs[0].text has a lone surrogate U+D800 at character 7"),
    ({"data": '{"inputs": [{"text": NaN}]}', "headers": {"Content-Type": "application/json"}}, 422, "string"),
    ({"data": '{"inputs": [{"text": Infinity}]}', "headers": {"Content-Type": "application/json"}}, 422, "string"),
    ({"data": '{"inputs": [{"text": "gout\\u0000"}]}', "headers": {"Content-Type": "application/json"}}, 422,
     "control character U+0000"),
    ({"data": b"\xff\xfe{", "headers": {"Content-Type": "application/json"}}, 400, "error parsing the body"),
])
def test_bad_requests_get_4xx_with_a_reason(service, kwargs, status, reason):
    base, _ = service
    response = call("POST", f"{base}/v1/models/ncbi/predict", **kwargs)
    assert response.status_code == status, response.text
    assert reason in response.text


@pytest.mark.parametrize("item, reason", [
    # The gene MET is not the verb "met": marking found no head, which was a 500.
    ({"text": "Smokers who met the criteria had lung cancer.", "head": "MET", "tail": "lung cancer"},
     "relation head 'MET' does not occur in the text"),
    ({"text": "BRCA1 variants and breast cancer.", "head": "BRCA1"}, "inputs[0] has a head but no tail"),
    ({"text": "BRCA1 variants and breast cancer."}, "inputs[0].text lacks @GENE$ and @DISEASE$"),
])
def test_relation_inputs_whose_entities_the_text_lacks_get_422(service, item, reason):
    base, _ = service
    response = call("POST", f"{base}/v1/models/gad/predict", json={"inputs": [item]})
    assert response.status_code == 422, response.text
    assert reason in response.json()["detail"]


def test_unknown_model_and_missing_token(service):
    base, _ = service
    response = call("POST", f"{base}/v1/models/nope/predict", json={"inputs": [{"text": "a"}]})
    assert response.status_code == 404 and "unknown model 'nope'; served models: ['gad', 'ncbi']" in response.text
    response = requests.get(f"{base}/v1/models", timeout=30)
    assert response.status_code == 401 and "bearer token" in response.text
    response = requests.get(f"{base}/v1/models", headers={"Authorization": "Bearer wrong"}, timeout=30)
    assert response.status_code == 401
    non_ascii = "Bearer t\u00f6ken".encode("utf-8")  # compare_digest refuses non-ASCII str: this was a 500
    response = requests.get(f"{base}/v1/models", headers={"Authorization": non_ascii}, timeout=30)
    assert response.status_code == 401 and "bearer token" in response.text


def test_a_bad_item_beside_valid_traffic_fails_only_its_own_request(service):
    from concurrent.futures import ThreadPoolExecutor
    base, _ = service
    good = {"inputs": [{"text": "Patients with asthma often report cough."}]}
    bad = '{"inputs": [{"text": "asthma \\ud800"}]}'

    def send(index: int) -> int:
        if index % 4 == 0:
            return call("POST", f"{base}/v1/models/ncbi/predict", data=bad,
                        headers={"Content-Type": "application/json"}).status_code
        return call("POST", f"{base}/v1/models/ncbi/predict", json=good).status_code

    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(send, range(80)))
    assert [s for i, s in enumerate(statuses) if i % 4] == [200] * 60
    assert [s for i, s in enumerate(statuses) if i % 4 == 0] == [422] * 20


def test_missing_model_folder_fails_at_build(tmp_path):
    from clingen.serving.classifier_app import build_app
    with pytest.raises(ConfigError, match=r"model 'x': .*nowhere has no model_card.json"):
        build_app({"models": {"x": str(tmp_path / "nowhere")}})


def test_clingen_serve_answers_over_http_and_stops_at_ctrl_c(service, tmp_path):
    import signal
    import subprocess
    import sys
    import time
    _, models = service
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "CLINGEN_SERVE_TOKEN")}
    log = open(tmp_path / "serve.log", "w")
    server = subprocess.Popen([sys.executable, "-m", "clingen", "serve", "--model", f"ner={models['ncbi']}",
                               "--model", models["gad"], "--port", str(port), "--num-cpus", "2"],
                              stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        base, deadline = f"http://127.0.0.1:{port}", time.time() + 300
        # Ready as a user sees it: the "serving" line is printed (Serve may answer /healthz a moment before
        # serve.run returns, and a Ctrl-C in that moment rightly stops start-up before the URLs are printed).
        while time.time() < deadline and "serving; Ctrl-C stops" not in (tmp_path / "serve.log").read_text():
            assert server.poll() is None, (tmp_path / "serve.log").read_text()[-3000:]
            time.sleep(1)
        assert requests.get(f"{base}/healthz", timeout=5).json().get("models") == ["gad", "ner"]
        answer = requests.post(f"{base}/v1/models/ner/predict", json={"inputs": [{"text": "Asthma worsened."}]},
                               timeout=60)
        assert answer.status_code == 200 and answer.json()["task"] == "ncbi-disease"
        assert requests.get(f"{base}/v1/models/gad", timeout=60).json()["card"]["task"] == "gad"  # named by its task
        server.send_signal(signal.SIGINT)
        stopped = time.time()
        assert server.wait(timeout=60) == 0
        assert time.time() - stopped < 60
        with pytest.raises(requests.ConnectionError):
            requests.get(f"{base}/healthz", timeout=5)
    finally:
        if server.poll() is None:
            server.kill()
        log.close()
    printed = (tmp_path / "serve.log").read_text()
    assert f"ner: POST {base}/v1/models/ner/predict" in printed and "serving; Ctrl-C stops" in printed
