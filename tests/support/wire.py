"""The real GLM payloads the unit tests feed the clients.

tests/wire_samples/ is a copy of the project's shared wire samples (../shared/wire-samples/ beside
the checkout), kept in the repository so the suite runs from any clone; test_wire_samples.py
checks the copy still matches the original wherever the original is present.
"""

from __future__ import annotations

from pathlib import Path

WIRE_SAMPLES = Path(__file__).resolve().parent.parent / "wire_samples"
SHARED_WIRE_SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "wire-samples"


def wire_sample(name: str) -> bytes:
    return (WIRE_SAMPLES / name).read_bytes()
