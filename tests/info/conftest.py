"""Helpers for the info page tests: a strict HTML check and link lookup."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

VOID_ELEMENTS = {
    "area",
    "base",
    "br",
    "col",
    "embed",
    "hr",
    "img",
    "input",
    "link",
    "meta",
    "source",
    "track",
    "wbr",
}


class StrictHTMLParser(HTMLParser):
    """Parse HTML and record every unbalanced tag and every link target."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.links: list[tuple[str, str]] = []
        self._link: list | None = None
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self._link = [dict(attrs).get("href"), ""]
        if tag not in VOID_ELEMENTS:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        # Foreign content (SVG) may self-close any element; HTML may not.
        if tag not in VOID_ELEMENTS and "svg" not in self.stack:
            self.errors.append(f"self-closed <{tag}/>")

    def handle_endtag(self, tag):
        if tag in VOID_ELEMENTS:
            self.errors.append(f"end tag for void element </{tag}>")
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes <{self.stack[-1:]}>")
            if tag in self.stack:
                while self.stack and self.stack.pop() != tag:
                    pass
            return
        self.stack.pop()
        if tag == "a" and self._link is not None:
            self.links.append((self._link[0], self._link[1]))
            self._link = None

    def handle_data(self, data):
        self.text.append(data)
        if self._link is not None:
            self._link[1] += data


def parse_html(content: bytes | str) -> StrictHTMLParser:
    """Parse a page, failing the test on unbalanced or unclosed tags."""
    if isinstance(content, bytes):
        content = content.decode("utf-8")
    parser = StrictHTMLParser()
    parser.feed(content)
    parser.close()
    assert parser.errors == [], parser.errors
    assert parser.stack == [], f"unclosed tags: {parser.stack}"
    return parser


@pytest.fixture
def page_links():
    """Return a function that parses a response and returns its links."""

    def links(response) -> list[tuple[str, str]]:
        return parse_html(response.content).links

    return links
