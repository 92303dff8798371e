"""HTML navigation (link bars, page headers/footers, breadcrumbs, in-page contents) is not
indexed, and titles carry no markup. Fixtures are shaped like the generators of the HTML
that ships in /usr/share/doc (texinfo, the socat man page, Sphinx/DocBook chrome)."""

from __future__ import annotations

from pathlib import Path

from morgan.rag.extract import extract

FIXTURES = Path(__file__).parent / "fixtures" / "html"


def _doc(name: str):
    return extract((FIXTURES / name).read_bytes(), name)


def _text(name: str) -> str:
    return "\n".join(f"{s.heading}\n{s.text}" for s in _doc(name).sections)


def test_texinfo_next_previous_up_bars_are_dropped() -> None:
    doc = _doc("texinfo-node.html")
    assert [s.heading for s in doc.sections] == ["2.3.2 Structures"]
    text = _text("texinfo-node.html")
    assert "passing structures back and forth" in text
    assert "Next:" not in text and "Previous" not in text and "Index" not in text


def test_title_markup_is_removed_and_in_page_contents_dropped() -> None:
    doc = _doc("manpage-title-markup.html")
    assert doc.title == "socat"
    headings = [s.heading for s in doc.sections]
    assert "socat > CONTENTS" not in headings
    assert "socat > NAME" in headings
    see_also = next(s for s in doc.sections if s.heading == "socat > SEE ALSO")
    assert see_also.text == "nc, rinetd, openssl"  # links to other pages are content


def test_site_chrome_is_dropped_and_content_kept() -> None:
    doc = _doc("site-chrome.html")
    assert doc.title == "Configuring the widget — Widget 2.1 documentation"
    text = _text("site-chrome.html")
    for chrome in ("Blog", "Home", "Prev", "Previous", "index", "Privacy", "©", "Chapter 2"):
        assert chrome not in text, chrome
    assert "the default port is 8421" in text
    assert "port | 8421" in text
    assert "Next generation widgets use the same file." in text
    # An article's own header (with its heading) is content, not page chrome.
    assert "Configuring the widget > Ports" in [s.heading for s in doc.sections]
    assert "Written by the widget team" in text


def test_a_page_of_links_only_keeps_its_links() -> None:
    text = _text("links-only.html")
    assert "Widget manual" in text and "Widget FAQ" in text
