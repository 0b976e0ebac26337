"""``ipam run``'s flags: a certificate comes with its key, or not at all; limits in range."""

from __future__ import annotations

import pytest

from ipam import cli


@pytest.mark.parametrize(
    "flag", ["--webhook-cert-file=/etc/tls.crt", "--webhook-key-file=/etc/tls.key"]
)
def test_a_certificate_without_its_key_or_a_key_alone_is_refused_at_once(
    flag: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["run", "--webhook-port=9443", flag]) == 2
    assert capsys.readouterr().err == (
        "ipam run: give both --webhook-cert-file and --webhook-key-file, or neither\n"
    )


def test_the_webhook_is_off_unless_a_port_is_given() -> None:
    args = cli.parser().parse_args(["run"])
    assert args.webhook_port == 0
    assert args.webhook_host == []


def test_status_indexes_list_up_to_a_thousand_claims_by_default() -> None:
    assert cli.parser().parse_args(["run"]).max_status_indexes == 1000
    assert cli.parser().parse_args(["run", "--max-status-indexes=4096"]).max_status_indexes == 4096


@pytest.mark.parametrize(
    ("value", "said"),
    [
        ("4097", "4097 is not a whole number between 0 and 4096"),
        ("-1", "-1 is not a whole number between 0 and 4096"),
        ("many", "'many' is not a whole number between 0 and 4096"),
    ],
)
def test_an_indexes_limit_out_of_range_or_not_a_number_is_refused_saying_why(
    value: str, said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.parser().parse_args(["run", f"--max-status-indexes={value}"])
    assert exited.value.code == 2
    assert f"argument --max-status-indexes: {said}\n" in capsys.readouterr().err
