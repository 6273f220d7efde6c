"""``ledger.chain`` exports exactly its documented names, each of them real."""

import ledger.chain


def test_every_exported_name_exists_and_nothing_private_is_exported() -> None:
    assert sorted(ledger.chain.__all__) == ledger.chain.__all__
    for name in ledger.chain.__all__:
        assert not name.startswith("_")
        assert getattr(ledger.chain, name).__module__.startswith("ledger.chain.")
