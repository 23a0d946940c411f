"""Small pieces behind the replaced systems' API: who gets the dashboard page rather than JSON
(Accept), which Chrome can show a window, the headless choice in the boot spec, the API's
address."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from aiohttp.test_utils import make_mocked_request

from supervisor.api.dashboard import is_page
from supervisor.api.httputil import prefers_html
from supervisor.config import Config
from supervisor.sessions.bootspec import boot_spec
from supervisor.settings import ServerConfig
from worker.browser.executable import find_executable
from worker.errors import ChromeNotFound

CHROMIUM = ("text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,"
            "image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7")
FIREFOX = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
HEADLESS_SHELL = "/usr/lib/chromium/chromium-headless-shell"


@pytest.mark.parametrize(("accept", "html"), [
    (CHROMIUM, True),
    (FIREFOX, True),
    ("text/html", True),
    ("text/*, application/json;q=0.5", True),
    ("*/*", False),  # curl
    (None, False),  # no Accept at all (Python's urllib, many scripts)
    ("application/json", False),
    ("application/json, text/html", False),  # a tie: the API's answer
    ("text/html;q=0.5, application/json", False),
    ("text/html;q=0, */*", False),
    ("text/html;q=bogus", False),
])
def test_only_a_client_that_ranks_html_first_gets_the_page(accept: str | None, html: bool) -> None:
    headers = {"Accept": accept} if accept is not None else {}
    assert prefers_html(make_mocked_request("GET", "/sessions", headers=headers)) is html


@pytest.mark.parametrize(("method", "path", "accept", "page"), [
    ("GET", "/", None, True),  # the overview is only a page
    ("GET", "/sessions", CHROMIUM, True),
    ("HEAD", "/sessions/cliente-a", CHROMIUM, True),
    ("GET", "/sessions", "*/*", False),
    ("GET", "/sessions/cliente-a", None, False),
    ("GET", "/sessions/-bad", CHROMIUM, False),
    ("GET", "/sessions/a/status", CHROMIUM, False),
    ("POST", "/sessions", CHROMIUM, False),
])
def test_dashboard_pages(method: str, path: str, accept: str | None, page: bool) -> None:
    headers = {"Accept": accept} if accept is not None else {}
    assert is_page(make_mocked_request(method, path, headers=headers)) is page


def test_a_window_needs_a_chrome_that_can_show_one(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "chromium-headless-shell").symlink_to(HEADLESS_SHELL)
    monkeypatch.setenv("PATH", str(bin_dir))
    assert find_executable("").name == "chromium-headless-shell"  # headless: the lighter one
    with pytest.raises(ChromeNotFound, match="needs a full Chrome or Chromium; none on PATH"):
        find_executable("", headless=False)
    with pytest.raises(ChromeNotFound, match="is chrome-headless-shell, which never shows a window"):
        find_executable(HEADLESS_SHELL, headless=False)
    true = shutil.which("true", path="/usr/bin:/bin")
    assert true is not None
    shutil.copy(true, bin_dir / "chromium")  # an ELF executable, named like a full Chromium
    assert find_executable("", headless=False) == bin_dir / "chromium"


def test_the_session_choice_of_headless_wins_over_the_config() -> None:
    cfg = Config()
    assert boot_spec(cfg, "s", "/p", "/t")["chrome_headless"] is True
    assert boot_spec(cfg, "s", "/p", "/t", headless=False)["chrome_headless"] is False
    windowed = cfg.replace("chrome", headless=False)
    assert boot_spec(windowed, "s", "/p", "/t", headless=True)["chrome_headless"] is True


@pytest.mark.parametrize(("host", "url"), [
    ("127.0.0.1", "http://127.0.0.1:8083"),
    ("0.0.0.0", "http://127.0.0.1:8083"),
    ("::", "http://127.0.0.1:8083"),
    ("::1", "http://[::1]:8083"),
    ("wa.internal", "http://wa.internal:8083"),
])
def test_the_api_address(host: str, url: str) -> None:
    assert ServerConfig(host=host).local_url == url
    assert Config(server=ServerConfig(host=host)).public_url == url
