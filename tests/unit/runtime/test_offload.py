"""Cheap crypto runs on the event loop's thread, RSA work in a worker thread."""

from __future__ import annotations

import threading

import pytest

from certkeeper.pki.keys import KeyAlgorithm, KeySpec, generate_private_key
from certkeeper.runtime.offload import compute, slow_key


def _thread_name() -> str:
    return threading.current_thread().name


async def test_slow_work_runs_in_a_worker_thread_and_fast_work_on_the_loop() -> None:
    loop_thread = threading.current_thread().name
    assert await compute(_thread_name, slow=False) == loop_thread
    assert await compute(_thread_name, slow=True) != loop_thread


async def test_arguments_and_errors_pass_through_both_ways() -> None:
    for slow in (False, True):
        assert await compute(divmod, 7, 2, slow=slow) == (3, 1)
        with pytest.raises(ZeroDivisionError):
            await compute(divmod, 1, 0, slow=slow)


@pytest.mark.parametrize(
    ("algorithm", "slow"), [(KeyAlgorithm.RSA, True), (KeyAlgorithm.ECDSA, False), (KeyAlgorithm.ED25519, False)]
)
def test_only_rsa_is_slow(algorithm: KeyAlgorithm, slow: bool) -> None:
    assert slow_key(algorithm) is slow
    assert slow_key(generate_private_key(KeySpec(algorithm=algorithm))) is slow
