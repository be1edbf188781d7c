"""The classifier service (serving stage, the end of the flow): trained ClinGen models behind a FastAPI
ingress on Ray Serve, with dynamic request batching, autoscaling, bearer-token auth, and 4xx answers with a
reason for every bad request."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import Field
from ray import serve

from clingen.config import StrictModel
from clingen.errors import ConfigError, DataFormatError
from clingen.serving.schemas import Item, PredictRequest, ServingLimits, check_item, relation_item_problem

# The ASGI app the deployment's routes hang on: Ray Serve's documented ingress pattern.
api = FastAPI(title="ClinGen classifiers", description="Predictions from ClinGen-trained models.")


class ClassifierAppArgs(StrictModel):
    """`args:` of the classifier application in serve_config.yaml."""

    models: dict[str, str] = Field(description="Model name -> folder written by `clingen train`.")
    max_batch_size: int = Field(32, ge=1, description="Dynamic batching: most requests per model call "
                                "(1 turns batching off).")
    batch_wait_timeout_s: float = Field(0.01, ge=0, description="Dynamic batching: longest wait to fill a batch.")
    min_replicas: int = Field(1, ge=0, description="Autoscaling lower bound.")
    max_replicas: int = Field(1, ge=1, description="Autoscaling upper bound.")
    target_ongoing_requests: int = Field(16, ge=1, description="Autoscaling target per replica.")
    max_ongoing_requests: int = Field(64, ge=1, description="Requests a replica takes at once.")
    device: str = Field("auto", pattern="^(auto|cpu|gpu)$", description="gpu needs a GPU per replica.")
    num_cpus: float = Field(1, gt=0, description="CPUs per replica.")
    max_inputs: int = Field(64, ge=1, description="Most inputs in one request.")
    max_chars: int = Field(10_000, ge=1, description="Longest input text, in characters.")
    token_env: str = Field("CLINGEN_SERVE_TOKEN", description="Environment variable holding the bearer "
                           "token; when it is unset or empty, no token is required.")


_WRONG_TOKEN = "missing or wrong bearer token (Authorization: Bearer ...)"
# FastAPI's generated documentation describes every route: it is behind the token as well.
_DOC_PATHS = ("/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json")


def _token_ok(request: Request) -> bool:
    token = request.app.state.token
    if not token:
        return True
    given = request.headers.get("authorization", "")
    # Bytes, not str: compare_digest refuses non-ASCII str, and a header may carry any latin-1 byte.
    return given.startswith("Bearer ") and secrets.compare_digest(
        given[7:].encode("latin-1", "replace"), token.encode("utf-8", "replace"))


def _authorise(request: Request) -> None:
    if not _token_ok(request):
        raise HTTPException(status_code=401, detail=_WRONG_TOKEN)


@api.middleware("http")
async def _protect_docs(request: Request, call_next):
    if request.url.path in _DOC_PATHS and not _token_ok(request):
        return JSONResponse(status_code=401, content={"detail": _WRONG_TOKEN})
    return await call_next(request)


@api.exception_handler(RequestValidationError)
async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    """422 with where and why, without echoing the input: FastAPI's default answer quotes it, and an input
    such as NaN or a lone surrogate cannot be written as JSON, which turned a bad request into a 500."""
    detail = [{"loc": list(error.get("loc", ())), "msg": str(error.get("msg", "")), "type": error.get("type", "")}
              for error in exc.errors()]
    return JSONResponse(status_code=422, content={"detail": detail})


def request_problem(inputs: list[Item], card, limits: ServingLimits) -> HTTPException | None:
    """The 413 or 422 answer, with the reason, for a request the model cannot take (too many or too long inputs,
    fields its family does not take, text that cannot be encoded, a relation whose head or tail the text does
    not hold), else None. Checked before the request joins a batch, so a bad input never fails a model call."""
    if len(inputs) > limits.max_inputs:
        return HTTPException(status_code=413, detail=f"{len(inputs)} inputs in one request; the limit is "
                                                     f"{limits.max_inputs}")
    for index, item in enumerate(inputs):
        reason = check_item(item, card.family, limits, index)
        if reason is None and card.family == "relation":
            reason = relation_item_problem(item, card, index)
        if reason:
            return HTTPException(status_code=413 if "limit is" in reason else 422, detail=reason)
    return None


def failure_answer(error: Exception) -> HTTPException:
    """The answer for a request whose prediction failed on its own (isolated from its batch): 422 with the
    reason when ClinGen refused its content (DataFormatError: a relation name not in the text, should
    request_problem ever let one through), else 500 (the server's fault: a ConfigError there is the served
    model's, not the request's)."""
    status = 422 if isinstance(error, DataFormatError) else 500
    return HTTPException(status_code=status, detail=f"prediction failed: {type(error).__name__}: {error}")


def _run(predictor, items: list[Item]) -> list[dict]:
    family = predictor.card.family
    if family in ("ner", "attribute"):
        return predictor.predict_entities([i.text for i in items])
    if family == "pair":
        return predictor.predict_pairs([(i.text_a, i.text_b) for i in items])
    if family == "relation":
        return predictor.predict_relations([(i.text, i.head, i.tail) for i in items])
    return predictor.predict_texts([i.text for i in items])


def predict_requests(predictors: dict, requests: list[tuple[str, list[Item]]]) -> list[list[dict] | Exception]:
    """One model call per model for requests batched together, each request's predictions in order. If a
    call fails, each of its requests runs alone, so an error fails only the request that causes it (its slot
    holds the exception) and never the requests that happened to share its batch."""
    results: list[list[dict] | Exception | None] = [None] * len(requests)
    for name in dict.fromkeys(name for name, _ in requests):
        mine = [i for i, (n, _) in enumerate(requests) if n == name]
        try:
            outputs = iter(_run(predictors[name], [item for i in mine for item in requests[i][1]]))
            for i in mine:
                results[i] = [next(outputs) for _ in requests[i][1]]
        except Exception:  # noqa: BLE001 - re-run one by one to find the request at fault
            for i in mine:
                results[i] = _run_alone(predictors[name], requests[i][1])
    return results


def _run_alone(predictor, items: list[Item]) -> list[dict] | Exception:
    try:
        return _run(predictor, items)
    except Exception as exc:  # noqa: BLE001 - handed back to its own request (failure_answer)
        return exc


def _has_gpu() -> bool:
    try:
        import torch
        return torch.cuda.is_available()
    except ImportError:
        return False


# Helpers above the class on purpose: Serve ships the deployment class to replicas by value, with the
# module globals that exist when the class is decorated.
@serve.deployment
@serve.ingress(api)
class ClassifierService:
    def __init__(self, args: dict):
        from clingen.training.predict import Predictor
        self.args = ClassifierAppArgs.model_validate(args)
        device = "cuda" if self.args.device == "gpu" or (self.args.device == "auto" and _has_gpu()) else "cpu"
        # Every model loads now: a missing or corrupt folder fails the deployment at start, not a request.
        self.predictors = {name: Predictor.load(path, device=device) for name, path in self.args.models.items()}
        self.limits = ServingLimits(max_inputs=self.args.max_inputs, max_chars=self.args.max_chars)
        api.state.token = os.environ.get(self.args.token_env, "")
        self.predict_batch.set_max_batch_size(self.args.max_batch_size)
        self.predict_batch.set_batch_wait_timeout_s(self.args.batch_wait_timeout_s)

    @api.get("/healthz")
    def healthz(self) -> dict:
        return {"status": "ok", "models": sorted(self.predictors)}

    @api.get("/v1/models", dependencies=[Depends(_authorise)])
    def list_models(self) -> dict:
        return {"models": [{"name": name, "task": p.card.task, "family": p.card.family, "labels": p.card.labels}
                           for name, p in sorted(self.predictors.items())]}

    @api.get("/v1/models/{name}", dependencies=[Depends(_authorise)])
    def model_card(self, name: str) -> dict:
        # The keys model_card.json holds, as the untyped card answered before: unset provenance stays absent.
        return {"name": name, "card": self._predictor(name).card.model_dump(mode="json", exclude_unset=True)}

    @api.post("/v1/models/{name}/predict", dependencies=[Depends(_authorise)])
    async def predict(self, name: str, body: PredictRequest) -> dict:
        predictor = self._predictor(name)
        problem = request_problem(body.inputs, predictor.card, self.limits)
        if problem:
            raise problem
        predictions = await self.predict_batch((name, body.inputs))
        if isinstance(predictions, Exception):  # this request's own failure, isolated from its batch
            raise failure_answer(predictions)
        return {"model": name, "task": predictor.card.task, "predictions": predictions}

    @serve.batch(max_batch_size=32, batch_wait_timeout_s=0.01)
    async def predict_batch(self, requests: list[tuple[str, list[Item]]]) -> list[list[dict] | Exception]:
        """Requests that arrive together run as one model call per model (sizes set from config). If that
        call fails, each of its requests runs alone, so only the request that fails gets its exception."""
        return predict_requests(self.predictors, requests)

    def _predictor(self, name: str):
        if name not in self.predictors:
            raise HTTPException(status_code=404, detail=f"unknown model {name!r}; served models: "
                                                        f"{sorted(self.predictors)}")
        return self.predictors[name]


def build_app(args: dict):
    """`import_path: clingen.serving.classifier_app:build_app` in serve_config.yaml."""
    parsed = ClassifierAppArgs.model_validate(args or {})
    for name, path in parsed.models.items():  # fail `serve run` early, before any replica starts
        if not (Path(path) / "model_card.json").is_file():
            raise ConfigError(f"model {name!r}: {path} has no model_card.json; expected a `clingen train` output")
    gpu = parsed.device == "gpu"
    actor_options = {"num_cpus": parsed.num_cpus, "num_gpus": 1 if gpu else 0}
    if os.environ.get(parsed.token_env):  # replicas on other nodes see the token of the deploying process
        actor_options["runtime_env"] = {"env_vars": {parsed.token_env: os.environ[parsed.token_env]}}
    return ClassifierService.options(
        autoscaling_config={"min_replicas": parsed.min_replicas, "max_replicas": parsed.max_replicas,
                            "target_ongoing_requests": parsed.target_ongoing_requests},
        max_ongoing_requests=parsed.max_ongoing_requests,
        ray_actor_options=actor_options,
    ).bind(parsed.model_dump())
