from mcpgw.fmt import usd


def test_usd_shows_small_amounts() -> None:
    assert usd(0) == "$0.0000"
    assert usd(0.000006) == "$0.000006"
    assert usd(0.0075) == "$0.0075"
    assert usd(0.0123) == "$0.0123"
    assert usd(1234.5) == "$1,234.5000"
    assert usd(3e-9) == "$3.00e-09"
