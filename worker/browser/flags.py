"""Chrome flags that are a matter of choice: ``[chrome] lean`` (named optimisations for fewer
processes and less memory), a V8 heap cap, and the merging of Chrome's list-valued switches.

Chrome reads ``--enable-features``, ``--disable-features``, the blink-feature lists and
``--js-flags`` once: of several occurrences only the last counts (base::CommandLine keeps one
value per switch). So every occurrence on the final command line, ours and the user's
``extra_args``, is merged into one, in order; a feature named later (the user's, which come
last) wins over the same feature named earlier in the opposite list.

The numbers behind each name are in the README ("A leaner Chrome") and come from
tests/bench/bench_chrome_flags.py.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Final

from worker.protocol import ChromeLean

__all__ = ["SERVER_FEATURES", "lean_flags", "merge_list_switches", "sandboxed"]

#: Features of Chrome a headless server never uses; most belong to full Chrome (chrome/) and
#: are no-ops in chromium-headless-shell, where BackForwardCache is the one that exists.
SERVER_FEATURES: Final = (
    "Translate",  # offers to translate pages, downloads language models
    "OptimizationHints",  # fetches per-site hints from Google
    "MediaRouter",  # Cast: discovers devices on the network
    "DialMediaRouteProvider",
    "AutofillServerCommunication",  # asks Google about forms
    "CertificateTransparencyComponentUpdater",
    "BackForwardCache",  # keeps left pages alive for Back: a session never goes back
)

_FLAGS: Final[dict[ChromeLean, tuple[str, ...]]] = {
    ChromeLean.IN_PROCESS_GPU: ("--in-process-gpu",),
    # Chrome 9x renamed the feature NetworkServiceInProcess to NetworkServiceInProcess2 (the
    # old name is unknown to Chrome 15x, which ignores it silently).
    ChromeLean.NETWORK_SERVICE_IN_PROCESS: ("--enable-features=NetworkServiceInProcess2",),
    ChromeLean.NO_ZYGOTE: ("--no-zygote",),
    ChromeLean.OPTIMIZE_FOR_SIZE: ("--js-flags=--optimize-for-size",),
    ChromeLean.NO_SERVER_FEATURES: ("--disable-features=" + ",".join(SERVER_FEATURES),),
}

#: Switches whose value is a list, and its separator.
_LISTS: Final = {
    "--enable-features": ",",
    "--disable-features": ",",
    "--enable-blink-features": ",",
    "--disable-blink-features": ",",
    "--js-flags": " ",
}
#: Each feature list's opposite: naming a feature in one takes it out of the other.
_OPPOSITE: Final = {
    "--enable-features": "--disable-features",
    "--disable-features": "--enable-features",
    "--enable-blink-features": "--disable-blink-features",
    "--disable-blink-features": "--enable-blink-features",
}
_FEATURE_NAME = re.compile(r"^\*?([^:<]*)")  # "Name", "*Name", "Name:param/v", "Name<Trial"


def sandboxed(args: Iterable[str]) -> bool:
    """False once ``args`` turn Chrome's sandbox off."""
    return "--no-sandbox" not in args


def lean_flags(names: Iterable[str], sandbox: bool, js_heap_max_mb: int = 0) -> list[str]:
    """The flags of the named optimisations ``names`` (ChromeLean values; ValueError for any
    other) and of a V8 old-space cap (``js_heap_max_mb``, 0 = none). ``no-zygote`` gives no flag
    while ``sandbox`` is on: Chrome refuses to start without its zygote then."""
    flags: list[str] = []
    for name in names:
        lean = ChromeLean(name)
        if lean is ChromeLean.NO_ZYGOTE and sandbox:
            continue
        flags.extend(_FLAGS[lean])
    if js_heap_max_mb:
        flags.append(f"--js-flags=--max-old-space-size={js_heap_max_mb}")
    return flags


def _split(arg: str) -> tuple[str, str] | None:
    switch, sep, value = arg.partition("=")
    return (switch, value) if sep and switch in _LISTS else None


def _key(switch: str, item: str) -> str:
    if _LISTS[switch] == " ":
        return item  # V8 reads its flags in order: repeats are harmless, the last one wins
    match = _FEATURE_NAME.match(item)
    return match.group(1) if match else item


def merge_list_switches(args: Sequence[str]) -> list[str]:
    """``args`` with each list switch once, where it first occurs, holding every item of all its
    occurrences in order (duplicates dropped; a feature in both lists stays only in the one that
    named it last). A switch left empty is dropped."""
    items: dict[str, dict[str, str]] = {}  # switch -> feature name -> item, in order
    for arg in args:
        parsed = _split(arg)
        if parsed is None:
            continue
        switch, value = parsed
        mine = items.setdefault(switch, {})
        for item in value.split(_LISTS[switch]):
            if not item:
                continue
            key = _key(switch, item)
            mine.pop(key, None)  # named again: moves to its latest place
            mine[key] = item
            opposite = _OPPOSITE.get(switch)
            if opposite is not None:
                items.get(opposite, {}).pop(key, None)
    merged: list[str] = []
    for arg in args:
        parsed = _split(arg)
        if parsed is None:
            merged.append(arg)
            continue
        switch = parsed[0]
        if switch in items:  # first occurrence: the whole list; later ones are dropped
            values = items.pop(switch).values()
            if values:
                merged.append(f"{switch}={_LISTS[switch].join(values)}")
    return merged
