"""The billing state lives outside invoices/ (SPEC 6); an older home's state is moved there."""

from pathlib import Path

from orchestration.billing.state import LEDGER, LINES, state_dir


def test_an_older_homes_ledger_and_lines_move_out_of_invoices(tmp_path: Path) -> None:
    (tmp_path / "invoices/.ledger").mkdir(parents=True)
    (tmp_path / "invoices/.ledger/2026-09.json").write_text('{"period": "2026-09"}')
    (tmp_path / "invoices/.lines").mkdir()
    (tmp_path / "invoices/.lines/2026-09.parquet").write_bytes(b"PAR1")

    ledger = state_dir(tmp_path, LEDGER)

    assert ledger == tmp_path / "state/billing/ledger"
    assert (ledger / "2026-09.json").read_text() == '{"period": "2026-09"}'
    assert (state_dir(tmp_path, LINES) / "2026-09.parquet").read_bytes() == b"PAR1"
    assert sorted(p.name for p in (tmp_path / "invoices").iterdir()) == []


def test_a_new_home_gets_nothing_under_invoices(tmp_path: Path) -> None:
    state_dir(tmp_path, LEDGER)

    assert not (tmp_path / "invoices").exists()
