"""statsmodels' Holm correction (multipletests) ends with a full garbage collection, a third of a
second each time in a test process that holds torch and pandas; the findings tests call it
hundreds of times, so they skip it (a collection changes no number)."""
from __future__ import annotations

import gc

import pytest


@pytest.fixture(autouse=True)
def no_collection_in_holm(monkeypatch):
    monkeypatch.setattr(gc, "collect", lambda *args: 0)
