"""Which checkpoint a resumed training starts from: the whole one furthest into training, whether or not Ray
Train registered it before the run was killed; a copy cut short is never chosen."""

import json
from pathlib import Path

import pytest

from clingen.training.trainer import checkpoint_progress, newest_checkpoint

pytestmark = pytest.mark.unit


def checkpoint(folder: Path, stage: int, epochs: int, steps: int = 0) -> str:
    import torch
    from safetensors.torch import save_file
    folder.mkdir(parents=True)
    save_file({"w": torch.arange(6, dtype=torch.float32)}, str(folder / "model.safetensors"))
    torch.save({"state": {}}, folder / "optimizer.pt")
    (folder / "progress.json").write_text(json.dumps({"stage_index": stage, "epochs_done": epochs,
                                                      "stage_steps": steps}))
    return str(folder)


def test_the_checkpoint_furthest_into_training_wins(tmp_path):
    registered = checkpoint(tmp_path / "checkpoint_a", stage=1, epochs=2, steps=100)
    unregistered = checkpoint(tmp_path / "checkpoint_b", stage=1, epochs=3, steps=150)
    older_stage = checkpoint(tmp_path / "checkpoint_c", stage=0, epochs=5, steps=400)
    assert newest_checkpoint([registered, older_stage, unregistered]) == unregistered
    assert checkpoint_progress(unregistered) == {"stage_index": 1, "epochs_done": 3, "stage_steps": 150}
    assert newest_checkpoint([]) is None


@pytest.mark.parametrize("damage", ["truncate weights", "drop optimizer", "empty progress"])
def test_a_checkpoint_cut_short_is_skipped(tmp_path, damage):
    whole = checkpoint(tmp_path / "checkpoint_a", stage=1, epochs=2)
    cut = Path(checkpoint(tmp_path / "checkpoint_b", stage=1, epochs=3))
    if damage == "truncate weights":
        weights = cut / "model.safetensors"
        weights.write_bytes(weights.read_bytes()[:-4])
    elif damage == "drop optimizer":
        (cut / "optimizer.pt").unlink()
    else:
        (cut / "progress.json").write_text("")
    assert checkpoint_progress(str(cut)) is None
    assert newest_checkpoint([whole, str(cut)]) == whole
