"""The load test's server CPU reading: the CPU time of every process of a process group, from /proc."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import time

import pytest

from eval.load_bench import group_cpu_seconds

pytestmark = pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="reads /proc (Linux)")


def test_a_busy_child_group_is_counted_and_an_unknown_group_is_nan() -> None:
    busy = "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass\n"
    child = subprocess.Popen([sys.executable, "-c", busy + "time.sleep(30)"], start_new_session=True)
    try:
        deadline = time.monotonic() + 20
        while group_cpu_seconds(child.pid) < 0.3 and time.monotonic() < deadline:
            time.sleep(0.05)
        used = group_cpu_seconds(child.pid)
        assert 0.3 <= used < 5.0, used  # its own burn (and its interpreter's start), not this process's
    finally:
        child.kill()
        child.wait()
    assert math.isnan(group_cpu_seconds(child.pid))  # gone: no process of that group is left
