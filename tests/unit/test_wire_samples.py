from __future__ import annotations

import pytest

from tests.support.wire import SHARED_WIRE_SAMPLES, WIRE_SAMPLES


@pytest.mark.skipif(not SHARED_WIRE_SAMPLES.is_dir(), reason="no ../shared beside this checkout")
def test_copy_matches_the_shared_samples() -> None:
    shared = {p.name: p.read_bytes() for p in SHARED_WIRE_SAMPLES.iterdir() if p.is_file()}
    copied = {p.name: p.read_bytes() for p in WIRE_SAMPLES.iterdir() if p.is_file()}
    assert copied == shared
