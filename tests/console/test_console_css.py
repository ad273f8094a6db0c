"""The console's colour pairs meet WCAG AA (4.5:1 for text) - computed from console.css itself."""

from __future__ import annotations

import re
from pathlib import Path

CSS = Path(__file__).resolve().parents[2] / "console" / "static" / "console.css"

# (text colour, background) pairs the stylesheet uses for text
PAIRS = [
    ("--ink", "--paper"),
    ("--ink", "--white"),
    ("--ink", "--cream"),
    ("--muted", "--paper"),
    ("--muted", "--white"),
    ("--muted", "--cream"),
    ("--bronze", "--white"),
    ("--bronze", "--paper"),
    ("--white", "--ink"),
    ("--white", "--bronze"),
    ("--danger", "--danger-bg"),
    ("--danger", "--white"),
    ("--ok", "--ok-bg"),
    ("--warn", "--warn-bg"),
]


def luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def test_text_colours_meet_wcag_aa() -> None:
    variables = dict(re.findall(r"(--[a-z-]+):\s*(#[0-9a-fA-F]{6})", CSS.read_text()))
    ratios = {(fg, bg): round(contrast(variables[fg], variables[bg]), 2) for fg, bg in PAIRS}
    assert all(r >= 4.5 for r in ratios.values()), ratios
    # the focus ring is a non-text indicator: 3:1 against the page
    assert contrast(variables["--focus"], variables["--paper"]) >= 3
