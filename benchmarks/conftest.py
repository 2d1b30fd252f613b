"""The test fixtures, shared with the benchmarks."""

from tests.conftest import (  # noqa: F401 - fixtures
    auto_enable_custom_integrations,
    gateway,
    gateway_entry,
    loaded_gateway,
    wildix_sim,
)
