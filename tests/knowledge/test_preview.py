"""The editor's Markdown preview: Markdown rendered, raw HTML escaped, unsafe links and images not live."""

from __future__ import annotations

import pytest

from knowledge.preview import render_markdown, safe_link


def test_markdown_is_rendered() -> None:
    html = render_markdown(
        "# Parking\n\n**Free** for *clients*, see [the map](https://mariia.example/map?a=1&b=2)."
        "\n\n- one\n- two"
    )
    assert "<h1>Parking</h1>" in html
    assert "<strong>Free</strong>" in html and "<em>clients</em>" in html
    assert '<a href="https://mariia.example/map?a=1&amp;b=2">the map</a>' in html
    assert "<ul>\n<li>one</li>" in html


def test_raw_html_and_script_are_escaped() -> None:
    html = render_markdown(
        'Hello <script>alert(1)</script> <img src=x onerror="alert(2)">\n\n<div onclick="x()">block</div>'
    )
    assert "<script" not in html and "<img" not in html and "<div" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;div onclick=&quot;x()&quot;&gt;block&lt;/div&gt;" in html


@pytest.mark.parametrize(
    "link",
    [
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        "java\tscript:alert(1)",
        "JaVaScRiPt&#58;alert(1)",
        "<javascript:alert(1)>",
        "vbscript:msgbox(1)",
        "data:text/html,<script>alert(1)</script>",
        "file:///etc/passwd",
    ],
)
def test_unsafe_links_are_not_links(link: str) -> None:
    html = render_markdown(f"[click me]({link})")
    assert "<a" not in html and "href" not in html
    assert "click me" in html


def test_safe_and_relative_links_stay() -> None:
    assert all(
        safe_link(u)
        for u in [
            "https://a.example",
            "http://a.example",
            "mailto:x@a.example",
            "tel:+48123",
            "/console/knowledge",
            "#hours",
            "prices.md",
        ]
    )
    assert not any(
        safe_link(u) for u in ["javascript:x", " javascript:x", "data:x", "//evil.example/x", "ftp://x"]
    )
    html = render_markdown("[hours](#hours) and <https://mariia.example>")
    assert '<a href="#hours">hours</a>' in html and '<a href="https://mariia.example">' in html


def test_images_are_shown_by_their_description_not_loaded() -> None:
    html = render_markdown('![the <b>studio</b> "front"](https://tracker.example/pixel.png)')
    assert "<img" not in html and "tracker.example" not in html
    assert "[image: the &lt;b&gt;studio&lt;/b&gt; &quot;front&quot;]" in html


def test_tables_and_strikethrough() -> None:
    html = render_markdown("| Treatment | Price |\n|---|--:|\n| Facial | 250 PLN |\n\n~~old~~ new")
    assert "<table>" in html and "<td>Facial</td>" in html
    assert "<s>old</s>" in html
