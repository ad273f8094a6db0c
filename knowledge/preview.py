"""An article's Markdown body as the HTML an editor previews: safe by construction.

Rendered with markdown-it (CommonMark plus tables and strikethrough) with raw HTML turned
off, so ``<script>`` in an article is escaped and shows as text. Links keep only the
schemes in :data:`LINK_SCHEMES` (or a relative address); ``javascript:``, ``data:`` and the
rest stay as the literal ``[text](...)`` they were typed as. Images are not loaded: they
show as ``[image: alt]``. The console page copies this HTML into the page through an
allowlist of tags (``console-knowledge.js``), and its CSP runs no inline script: three
layers, each enough on its own for what it covers.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markdown_it.token import Token

#: what a link in an article may point at; anything else is not made a link
LINK_SCHEMES = frozenset({"http", "https", "mailto", "tel"})

_SCHEME = re.compile(r"^([a-z][a-z0-9+.\-]*):")
# characters browsers drop from a URL before reading its scheme ("java\tscript:")
_IGNORED = re.compile(r"[\x00-\x20\x7f]+")


def safe_link(url: str) -> bool:
    """True for http(s), mailto and tel links and for relative ones (``/console/...``, ``#x``)."""
    squeezed = _IGNORED.sub("", url).lower()
    found = _SCHEME.match(squeezed)
    if found is None:
        return not squeezed.startswith("//") and ":" not in squeezed.split("/", 1)[0]
    return found.group(1) in LINK_SCHEMES


class _SafeMarkdown(MarkdownIt):
    def validateLink(self, url: str) -> bool:  # markdown-it's name for the hook
        return safe_link(url)


def _image(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
    alt = self.renderInlineAsText(tokens[idx].children or [], options, env)
    return f'<span class="md-image">[image: {escapeHtml(alt)}]</span>'


@lru_cache(maxsize=1)
def _renderer() -> MarkdownIt:
    md = _SafeMarkdown("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable(["table", "strikethrough"])
    md.add_render_rule("image", _image)
    return md


def render_markdown(text: str) -> str:
    """``text`` (Markdown) as HTML with no raw HTML, no unsafe links and no images."""
    return _renderer().render(text)
