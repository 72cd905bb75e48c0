"""Fixtures for the solver integration tests against BIND 9 (``tests.harness.bind``).

* ``bind`` (package): one ``named`` for all solver tests, serving ``example.test`` (wildcard A records
  to 127.0.0.1, a CNAME delegating ``_acme-challenge.delegated.example.test`` into ``acme.test``, and a
  TXT set too large for one UDP answer) and ``acme.test``. Tests use distinct names, so they can share it.

A failing test that used BIND gets its log tail in the report.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator

import pytest

from tests.harness.bind import Bind, Zone

#: TXT records at big.example.test: about 8 KiB, more than an EDNS0 UDP answer of 4096 bytes holds.
BIG_TXT_COUNT = 40
BIG_TXT_RECORDS = [f'big IN TXT "{i:03d}{"x" * 197}"' for i in range(BIG_TXT_COUNT)]

ZONES = (
    Zone(
        name="example.test",
        records=[
            "_acme-challenge.delegated IN CNAME _acme-challenge.delegated.acme.test.",
            *BIG_TXT_RECORDS,
        ],
    ),
    Zone(name="acme.test", wildcard_a=False),
)


@pytest.fixture(scope="package")
def bind(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bind]:
    """BIND on a free loopback port, stopped at the end of the package whatever happened."""
    with Bind(tmp_path_factory.mktemp("bind"), zones=ZONES) as server:
        yield server


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Attach BIND's log tail to a failing test's report."""
    report = yield
    server = getattr(item, "funcargs", {}).get("bind")
    if report.failed and isinstance(server, Bind):
        report.sections.append(("named log", server.log_tail()))
    return report
