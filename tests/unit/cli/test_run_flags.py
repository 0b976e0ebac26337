"""``ipam run``'s webhook flags: a certificate comes with its key, or not at all."""

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
