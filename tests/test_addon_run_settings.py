"""``formshield run``'s banner states what the command line sets up (addon.run_settings).

Each case is the command line ``formshield run`` builds, with the arguments a person put after
``--``, read by mitmproxy's own parser; nothing is started, and nothing is created.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from addon.run_settings import RunSettings, read_settings
from addon.runner import banner, build_mitmproxy_args, startup_banner


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("FORMSHIELD_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # mitmproxy's confdir: ~/.mitmproxy
    return tmp_path / "data"


def settings(extra: list[str], *, web: bool = False, audit: str | None = None) -> RunSettings:
    return read_settings(build_mitmproxy_args([], audit, extra, web=web), web=web)


@pytest.mark.parametrize(
    "extra, proxies",
    [
        ([], ["http://127.0.0.1:8080"]),
        (["-p", "9090"], ["http://127.0.0.1:9090"]),
        (["--listen-port", "9091"], ["http://127.0.0.1:9091"]),
        (["--set", "listen_port=9092"], ["http://127.0.0.1:9092"]),
        (["--listen-host", "192.168.1.5"], ["http://192.168.1.5:8080"]),
        (["--set", "listen_host=192.168.1.6"], ["http://192.168.1.6:8080"]),
        (["--listen-host", ""], ["regular on every interface, port 8080"]),
        (["--mode", "regular@9093"], ["http://127.0.0.1:9093"]),
        (["--mode", "regular@10.0.0.2:9094"], ["http://10.0.0.2:9094"]),
        (
            ["--mode", "reverse:https://example.com", "-p", "8443"],
            ["reverse:https://example.com on 127.0.0.1, port 8443"],
        ),
        (
            ["--mode", "socks5@1080", "--mode", "regular@8081"],
            ["socks5 on 127.0.0.1, port 1080", "http://127.0.0.1:8081"],
        ),
        (["--mode", "local"], ["local"]),
        # Each mode's own default port, as mitmproxy gives it.
        (["--mode", "wireguard"], ["wireguard on 127.0.0.1, port 51820"]),
    ],
)
def test_where_the_proxy_listens(extra: list[str], proxies: list[str]) -> None:
    assert settings(extra).proxies == proxies


def test_defaults(data_dir: Path, tmp_path: Path) -> None:
    got = settings([])
    assert got.confdir == tmp_path / "home" / ".mitmproxy"
    assert got.ca_cert == got.confdir / "mitmproxy-ca-cert.pem"
    assert got.audit == data_dir / "audit.sqlite3"
    assert got.user_policy == data_dir / "user-policy.yaml"
    assert [p.name for p in got.policies] == ["default.yaml"]
    assert (got.api, got.web) == ("http://127.0.0.1:8765", None)


def test_files_and_ports_set_after_the_double_dash(tmp_path: Path) -> None:
    got = settings(
        [
            "--set", f"confdir={tmp_path / 'conf'}",
            "--set", f"formshield_audit={tmp_path / 'a.db'}",
            "--set", f"formshield_policy={tmp_path / 'shop.yaml'}",
            "--set", "formshield_api_port=9876",
        ]
    )  # fmt: skip
    assert got.ca_cert == tmp_path / "conf" / "mitmproxy-ca-cert.pem"
    assert got.audit == tmp_path / "a.db"
    assert [p.name for p in got.policies] == ["default.yaml", "shop.yaml"]
    assert got.api == "http://127.0.0.1:9876"


def test_formshields_own_options_and_what_overrides_them(tmp_path: Path) -> None:
    ours = build_mitmproxy_args(
        [str(tmp_path / "bank.yaml")], "off", ["--set", "formshield_api_port=0"], no_default=True
    )
    got = read_settings(ours, web=False)
    assert got.policies == [tmp_path / "bank.yaml"]
    assert (got.audit, got.api) == (None, None)
    # Two values for a single-valued option: mitmproxy refuses to start, and says so.
    twice = build_mitmproxy_args([], "off", ["--set", f"formshield_audit={tmp_path / 'b.db'}"])
    with pytest.raises(ValueError, match="multiple values for formshield_audit"):
        read_settings(twice, web=False)


def test_relative_and_home_paths_are_shown_resolved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    got = settings(["--set", "formshield_policy=mine.yaml", "--set", "confdir=~/conf"])
    assert got.policies[-1] == tmp_path / "mine.yaml"
    assert got.confdir == tmp_path / "home" / "conf"


def test_mitmproxys_config_file_counts(tmp_path: Path) -> None:
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "config.yaml").write_text("formshield_api_port: 9393\nweb_port: 9494\n")
    assert settings(["--set", f"confdir={conf}"]).api == "http://127.0.0.1:9393"
    # mitmproxy reads the file after --set values, so the file wins over them (a real
    # mitmdump then serves the extension API on 9393); flags such as --web-port win over both.
    assert settings(["--set", f"confdir={conf}", "--set", "formshield_api_port=0"]).api == (
        "http://127.0.0.1:9393"
    )
    assert settings(["--set", f"confdir={conf}"], web=True).web == "http://127.0.0.1:9494"
    web = settings(["--set", f"confdir={conf}", "--web-port", "9595"], web=True)
    assert web.web == "http://127.0.0.1:9595"


@pytest.mark.parametrize(
    "config, extra, proxies",
    [
        ("listen_port: 9191\n", [], ["http://127.0.0.1:9191"]),
        ("listen_host: 192.168.1.7\n", [], ["http://192.168.1.7:8080"]),
        # Flags after -- win over the file, as in mitmproxy.
        ("listen_port: 9191\n", ["-p", "9192"], ["http://127.0.0.1:9192"]),
    ],
)
def test_the_persons_config_file_sets_where_the_proxy_listens(
    tmp_path: Path, config: str, extra: list[str], proxies: list[str]
) -> None:
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "config.yaml").write_text(config)
    assert settings(["--set", f"confdir={conf}", *extra]).proxies == proxies


def test_mitmweb(tmp_path: Path) -> None:
    got = settings(["--web-port", "9000"], web=True)
    assert got.web == "http://127.0.0.1:9000"
    assert "  web UI:      http://127.0.0.1:9000 (mitmweb prints its login link below)\n" in (
        banner(got)
    )
    assert settings([], web=True).web == "http://127.0.0.1:8081"
    assert "web UI" not in banner(settings([]))


@pytest.mark.parametrize(
    "extra, reason",
    [
        (["--bogus"], "unrecognized arguments: --bogus"),
        (["-p", "port"], "invalid int value: 'port'"),
        (["--mode", "sideways"], "unknown mode"),
        (["--set", "formshield_api_port=x"], "formshield_api_port"),
        (["--set", "listen_port=eighty"], "listen_port"),
    ],
)
def test_arguments_mitmproxy_refuses(extra: list[str], reason: str) -> None:
    with pytest.raises(ValueError) as error:
        settings(extra)
    assert reason in str(error.value)


def test_reading_starts_nothing_and_creates_nothing(data_dir: Path, tmp_path: Path) -> None:
    handlers = list(logging.getLogger().handlers)
    settings(["--set", f"confdir={tmp_path / 'conf'}", "-p", "9095"])
    assert logging.getLogger().handlers == handlers  # no second log printer
    assert not data_dir.exists() and not (tmp_path / "conf").exists()


def test_banner_states_the_settings(tmp_path: Path) -> None:
    got = settings(
        ["-p", "9096", "--set", f"confdir={tmp_path / 'conf'}", "--set", "formshield_api_port=0"],
        audit="off",
    )
    text = banner(got)
    assert "  proxy:       http://127.0.0.1:9096\n" in text
    assert f"  CA cert:     {tmp_path / 'conf' / 'mitmproxy-ca-cert.pem'} " in text
    assert "  audit store: off\n" in text
    assert "  extension:   backend off" in text
    assert "note:" not in text
    two = settings(["--mode", "socks5@1080", "--mode", "regular@8081"])
    assert (
        "  proxy:       socks5 on 127.0.0.1, port 1080\n               http://127.0.0.1:8081\n"
        in (banner(two, "a note"))
    )
    assert banner(two, "a note").endswith("  note:        a note")


def test_startup_banner_falls_back_to_formshields_own_settings(tmp_path: Path) -> None:
    ours = build_mitmproxy_args([], None, [])
    text = startup_banner([*ours, "-p", "9097"], ours, web=False)
    assert "http://127.0.0.1:9097" in text and "note:" not in text
    refused = startup_banner([*ours, "--bogus"], ours, web=False)
    assert "  proxy:       http://127.0.0.1:8080\n" in refused
    assert refused.endswith(
        "note:        mitmproxy may refuse its settings (unrecognized arguments: --bogus); "
        "it says why as it starts"
    )


def test_startup_banner_with_an_unreadable_config_file(tmp_path: Path) -> None:
    conf = tmp_path / "home" / ".mitmproxy"
    conf.mkdir(parents=True)
    (conf / "config.yaml").write_text("listen_port: [\n")
    ours = build_mitmproxy_args([], None, [])
    text = startup_banner(ours, ours, web=False)
    assert text.startswith("formshield: mitmproxy may refuse its settings (Error reading ")
    assert "config.yaml" in text
