"""Unit tests share one process: a secret one test registers (masking is process-wide, and masks
every 6-character fragment of a secret) must not mask another test's ordinary text — a test
registering `s3cr3t-value` once turned a later test's `nul-in-a-value.yaml` into `nul-in-a***.yaml`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from drills import masking


@pytest.fixture(autouse=True)
def _secrets_registered_by_a_test_stay_in_that_test() -> Iterator[None]:
    registered, current = set(masking._registered), masking._current
    yield
    with masking._lock:
        masking._registered.clear()
        masking._registered.update(registered)
        masking._current = current
