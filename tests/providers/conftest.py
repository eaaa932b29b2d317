"""Fixtures of the provider tests."""
import pytest
from fakeserver import FakeServer


@pytest.fixture
def server():
    """A started FakeServer on 127.0.0.1, stopped after the test."""
    with FakeServer() as srv:
        yield srv
