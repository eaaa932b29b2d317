"""The one masking function every outgoing string goes through (logs, snapshots, CLI, API, hub export).

Two things are masked, whole, with nothing of them left to see:
- every secret this process knows: the values of the variables accounts name for keys
  (`api_key_env`, `*_key_env`, a provider's own key variables) and the tokens providers send in
  request headers, registered with `remember`; and any piece of one 12 characters or longer, so a
  key an upstream echoed and a message then cut short is still caught;
- anything shaped like a well-known API key or a bearer token, known or not.

Masking comes before any truncation (`clip`): a cut made first could leave a piece too short to
recognise. Secrets shorter than MIN_SECRET are not registered (they would mask ordinary words).
"""
from __future__ import annotations

import os
import re
import threading
from typing import Any, Dict, FrozenSet, Iterable, Mapping, Optional, Tuple

PLACEHOLDER = "[masked]"
PIECE = 12  # a run of this many characters of a secret is masked wherever it appears
MIN_SECRET = 8

# Shapes of API keys and tokens, masked even when no account names them.
_SHAPES = re.compile(
    r"(?<![A-Za-z0-9])(?:sk-[A-Za-z0-9_\-]{8,}|sk_[A-Za-z0-9]{8,}|xai-[A-Za-z0-9]{8,}|gsk_[A-Za-z0-9]{8,}"
    r"|AIza[0-9A-Za-z_\-]{20,}|gh[pousr]_[A-Za-z0-9]{16,}|github_pat_[A-Za-z0-9_]{16,})"
    r"|(?<=[Bb]earer )[A-Za-z0-9._\-~+/=]{12,}|(?<=BEARER )[A-Za-z0-9._\-~+/=]{12,}"
)
_SECRET_NAME = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL)", re.IGNORECASE)


class _Known:
    """The registered secrets, replaced whole on every change so readers never lock."""

    def __init__(self, values: FrozenSet[str] = frozenset()):
        self.values = values
        self.short = tuple(sorted((v for v in values if len(v) < PIECE), key=len, reverse=True))
        self.pieces: FrozenSet[str] = frozenset(
            v[i:i + PIECE] for v in values if len(v) >= PIECE for i in range(len(v) - PIECE + 1))
        chars = "".join(sorted({c for v in values for c in v}))
        # Runs of the secrets' own characters, long enough to hold a piece: only those are scanned.
        self.runs = re.compile(f"[{re.escape(chars)}]{{{PIECE},}}") if self.pieces else None


_known = _Known()
_lock = threading.Lock()


def remember(*values: Optional[str]) -> None:
    """Register secret values (keys, tokens) so that no output of this process ever shows them."""
    global _known
    fresh = {v.strip() for v in values if isinstance(v, str) and len(v.strip()) >= MIN_SECRET}
    if fresh <= _known.values:
        return
    with _lock:
        _known = _Known(_known.values | fresh)


def is_secret_name(name: str) -> bool:
    """Whether an environment variable's name says it holds a credential (OPENAI_API_KEY, GH_TOKEN)."""
    return bool(_SECRET_NAME.search(name))


def remember_env(names: Iterable[str], environ: Optional[Mapping[str, str]] = None) -> None:
    """Register the values of these environment variables."""
    env = os.environ if environ is None else environ
    remember(*(env.get(name) for name in names if name))


def remember_headers(headers: Mapping[str, str]) -> None:
    """Register the credentials a request carries (Authorization and API-key headers, cookie values)."""
    for name, value in headers.items():
        lower = name.lower()
        if not isinstance(value, str) or not value:
            continue
        if lower == "authorization":
            remember(value.split(" ", 1)[-1])
        elif lower == "cookie":
            remember(*(part.split("=", 1)[-1] for part in value.split(";")))
        elif is_secret_name(lower):
            remember(value)


def _spans(text: str, known: _Known) -> Iterable[Tuple[int, int]]:
    """(start, end) of every stretch of `text` made of pieces of known secrets, merged."""
    assert known.runs is not None
    for run in known.runs.finditer(text):
        start = end = -1
        for i in range(run.start(), run.end() - PIECE + 1):
            if text[i:i + PIECE] in known.pieces:
                if i > end:
                    if end > start:
                        yield start, end
                    start = i
                end = i + PIECE
        if end > start:
            yield start, end


def mask(text: str) -> str:
    """`text` with every known secret (or 12+ character piece of one) and every key-shaped token masked."""
    if not text or not isinstance(text, str):
        return text
    known = _known
    if known.runs is not None and len(text) >= PIECE:
        out, last = [], 0
        for start, end in _spans(text, known):
            out += [text[last:start], PLACEHOLDER]
            last = end
        if out:
            text = "".join(out) + text[last:]
    for value in known.short:
        if value in text:
            text = text.replace(value, PLACEHOLDER)
    return _SHAPES.sub(PLACEHOLDER, text)


def clip(text: str, limit: int) -> str:
    """Masked first, then cut to `limit` characters (an ellipsis says so)."""
    text = mask(text)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def mask_tree(value: Any) -> Any:
    """A JSON-like value with every string in it (keys too) masked; unchanged parts are shared."""
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, dict):
        return {mask(k) if isinstance(k, str) else k: mask_tree(v) for k, v in value.items()}
    if isinstance(value, list):
        return [mask_tree(v) for v in value]
    return value


def account_key_names(api_key_env: Optional[str], extra: Mapping[str, Any], declared: Iterable[str]) -> Dict[str, None]:
    """The variables that hold an account's credentials: its api_key_env, its `*_key_env` keys, and the
    provider's declared variables whose names say they hold one."""
    names: Dict[str, None] = {}
    if api_key_env:
        names[api_key_env] = None
    for key, value in extra.items():
        if key.endswith("_key_env") and isinstance(value, str):
            names[value] = None
    for name in declared:
        if is_secret_name(name):
            names[name] = None
    return names
