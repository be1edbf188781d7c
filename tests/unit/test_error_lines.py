"""An expected failure deep in Ray (a full disk in a commit task, a stage's bad input) is said in one line: the
root cause's type and first line, with the whole chain kept in a file."""

import pytest

from clingen.errors import cause_line, root_cause

pytestmark = pytest.mark.unit


class RayLikeTaskError(Exception):
    """As Ray's RayTaskError: the remote traceback in its text, the original exception in `.cause`."""

    def __init__(self, cause):
        super().__init__("ray::commit_shard() (pid=12, ip=127.0.0.1)\n  File \"x.py\", line 3\n" + repr(cause))
        self.cause = cause


def test_the_root_cause_is_found_through_ray_wrappers_and_raise_from():
    disk = OSError(28, "No space left on device", "/runs/x/data/part-000003.parquet")
    try:
        try:
            raise RayLikeTaskError(disk)
        except RayLikeTaskError as exc:
            raise RuntimeError("UserCodeException: the stream failed\nmore lines") from exc
    except RuntimeError as top:
        assert root_cause(top) is disk
        line = cause_line(top)
    assert "\n" not in line and line.startswith("OSError: [Errno 28] No space left on device: "
                                                "'/runs/x/data/part-000003.parquet' (full traceback: ")
    kept = open(line.rsplit("(full traceback: ", 1)[1].rstrip(")")).read()
    assert "ray::commit_shard()" in kept and "UserCodeException" in kept


def test_a_cause_that_points_back_to_itself_ends_the_walk():
    loop = RayLikeTaskError(None)
    loop.cause = loop
    assert root_cause(loop) is loop
