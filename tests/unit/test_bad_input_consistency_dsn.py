"""`drills check consistency` refuses bad input before connecting (issue 18 item 11): a port
outside 1..65535 is said to be out of range (it used to be "not a number", and port 0
quietly became 3306); two DSNs naming one host:port are one server, and a server compared
with itself always passes. (Two different addresses of one server are refused after
connecting; see tests/integration/test_consistency_cli.py.)"""

from __future__ import annotations

import pytest

from drills.cli import main
from drills.errors import UserError
from drills.observe import consistency as c


def refused(dsn: str) -> str:
    with pytest.raises(UserError) as info:
        c.parse_dsn(dsn, "dc2")
    text = str(info.value)
    assert "s3cret" not in text
    return text


@pytest.mark.parametrize("port", ["99999", "65536", "0", "-1", "9" * 5000])
def test_port_out_of_range_says_so(port: str) -> None:
    for fine, parsed in (("1", 1), ("65535", 65535), ("", 3306), (None, 3306)):  # the range and the default
        assert c.parse_dsn("mysql://app:s3cret@db.example" + (f":{fine}" if fine is not None else ""), "dc1")[1] == parsed
    assert c.parse_dsn("mysql://app:s3cret@[::1]:3307", "dc1")[:2] == ("::1", 3307)
    text = refused(f"mysql://app:s3cret@db.example:{port}")
    assert f"port {port[:20]} is out of range (1-65535)" in text and "not a number" not in text
    assert len(text) < 300  # a 5,000-digit port is not echoed in full


@pytest.mark.parametrize("port", ["abc", "33o6", "1:2", "٣٣٠٦"])
def test_port_that_is_not_a_number_says_so(port: str) -> None:
    assert f"the port {port!r} is not a number" in refused(f"mysql://app:s3cret@db.example:{port}")


@pytest.mark.parametrize("second", ["mysql://app:s3cret@127.0.0.1:3311", "mysql://other:pw@127.0.0.1:3311"])
def test_two_dsns_for_one_host_and_port_are_refused_without_connecting(second: str) -> None:
    with pytest.raises(UserError) as info:
        c.check(["mysql://app:s3cret@127.0.0.1:3311", second])
    text = str(info.value)
    assert "dc1 and dc2 are the same server (app@127.0.0.1:3311)" in text and "s3cret" not in text


def test_cli_port_out_of_range_is_exit_2_with_the_range(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["check", "consistency", "--dsn", "mysql://u:pw-Hidden@127.0.0.1:99999", "--dsn", "mysql://u@h:1"])
    err = capsys.readouterr().err
    assert code == 2 and "port 99999 is out of range (1-65535)" in err and "pw-Hidden" not in err


def test_cli_same_dsn_twice_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    dsn = "mysql://u:pw-Hidden@127.0.0.1:3311"
    code = main(["check", "consistency", "--dsn", dsn, "--dsn", dsn])
    err = capsys.readouterr().err
    assert code == 2 and "same server" in err and "pw-Hidden" not in err


@pytest.mark.parametrize(("option", "value"), [("--chunk-size", "0"), ("--chunk-size", "9" * 400),
                                               ("--wait-timeout", "inf"), ("--wait-timeout", "nan"),
                                               ("--wait-timeout", "1e400"), ("--wait-timeout", "-1")])
def test_cli_numbers_out_of_range_are_exit_2(option: str, value: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:  # argparse's own usage error
        main(["check", "consistency", "--dsn", "mysql://u@h:1", "--dsn", "mysql://u@h:2", option, value])
    err = capsys.readouterr().err
    assert info.value.code == 2 and f"argument {option}: expected" in err and "Traceback" not in err
