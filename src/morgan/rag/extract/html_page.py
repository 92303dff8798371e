"""HTML text via selectolax (lexbor): the readable content, split at h1-h6.

Site chrome (scripts, styles, navigation, page headers and footers, breadcrumbs, edit
links, citation markers) is removed before walking, and `<main>`/`<article>` is preferred
when present, so a saved Wikipedia page yields the article rather than its sidebars. Link
bars that generators put in the content ("Next: A, Previous: B, Up: C [Index]", tables of
contents, menus: blocks and lists that are nothing but links) are dropped while walking:
they match every query about the page and would rank above its text. The walk is
iterative: deeply nested markup cannot exhaust the recursion limit.
"""

from __future__ import annotations

import re
from pathlib import PurePath

from selectolax.lexbor import LexborHTMLParser, LexborNode

from morgan.rag.extract.limits import Budget
from morgan.rag.extract.models import (
    HEADING_SEPARATOR,
    ErrorCode,
    ExtractedDocument,
    ExtractionError,
    Mime,
    Section,
)
from morgan.rag.extract.tidy import tidy, tidy_preformatted

_CHROME = (
    "script",
    "style",
    "noscript",
    "template",
    "svg",
    "canvas",
    "iframe",
    "object",
    "nav",
    "footer",
    "aside",
    "form",
    "button",
    "select",
    "input",
    "textarea",
    "[hidden]",
    '[aria-hidden="true"]',
    '[role="navigation"]',
    '[role="banner"]',
    '[role="contentinfo"]',
    '[role="search"]',
    '[role="complementary"]',
    # MediaWiki and similar chrome inside the content area
    # documentation generators' navigation (DocBook, texinfo, Sphinx, breadcrumbs)
    ".navheader",
    ".navfooter",
    ".nav-panel",
    ".related",
    ".sphinxsidebar",
    ".breadcrumb",
    ".breadcrumbs",
    '[aria-label="breadcrumb"]',
    '[aria-label="Breadcrumb"]',
    ".mw-editsection",
    ".mw-jump-link",
    ".navbox",
    ".catlinks",
    ".printfooter",
    ".noprint",
    "sup.reference",
)
_CHROME_SELECTORS = ", ".join(_CHROME)
_MAIN_SELECTORS = ("main", '[role="main"]', "article")
_PAGE_HEADERS = "header, .header, #header, .footer, #footer"
"""Page chrome unless it is an article's own header (inside main/article, with a heading)."""
_NAV_WORDS = re.compile(
    r"\b(next|prev|previous|up|home|top|index|contents|table of contents|back|forward|"
    r"toc|skip to (main )?content)\b",
    re.IGNORECASE,
)
_NAV_LINK = re.compile(rf"\W*(?:{_NAV_WORDS.pattern})(?: page| section| chapter)?\W*", re.I)
"""A link whose whole text is a navigation word: "Next", "« Previous page", "[Index]"."""
_LINK_SEPARATORS = re.compile(r"[\s«»‹›←→↑⇐⇒|·•:;,.\[\]()<>/\\-]+")

_BLOCK_TAGS = frozenset(
    {
        "address", "article", "aside", "blockquote", "body", "caption", "center", "dd",
        "details", "dialog", "div", "dl", "dt", "fieldset", "figcaption", "figure", "header",
        "hgroup", "hr", "html", "legend", "main", "ol", "p", "section", "summary", "table",
        "tbody", "tfoot", "thead", "ul",
    }
)  # fmt: skip
_HEADING_TAGS = {f"h{level}": level for level in range(1, 7)}
_LINE_TAGS = frozenset({"li", "dt", "dd"})
_SPACES = re.compile(r"\s+")
_PERMALINK_MARK = re.compile(r"\s*[#¶§🔗]$")
_DISPLAYSTYLE = re.compile(r"^\{\\displaystyle\s*(.*)\}$", re.DOTALL)


def extract_html(
    text: str, filename: str, *, encoding: str | None = None, budget: Budget | None = None
) -> ExtractedDocument:
    budget = budget or Budget()
    try:
        tree = LexborHTMLParser(text)
    except Exception as error:  # lexbor is forgiving; this means truly unusable input
        raise ExtractionError(ErrorCode.DAMAGED, f"damaged HTML: {error!r}") from error

    page_title = _page_title(tree)
    for node in tree.css(_CHROME_SELECTORS):
        node.decompose()
    for node in tree.css(_PAGE_HEADERS):
        if not _is_article_header(node):
            node.decompose()
    root = _content_root(tree)
    sections = _Walker(budget=budget).walk(root) if root is not None else []
    if not sections and root is not None:  # a page of links only: keep its links
        sections = _Walker(drop_links=False, budget=budget).walk(root)
    if not sections:
        raise ExtractionError(ErrorCode.EMPTY, "no extractable text in the HTML page")

    first_heading = next((s.heading for s in sections if s.heading), "")
    title = page_title or first_heading.split(HEADING_SEPARATOR)[0] or PurePath(filename).stem
    return ExtractedDocument(title=title, mime=Mime.HTML, sections=sections, encoding=encoding)


def _page_title(tree: LexborHTMLParser) -> str:
    node = tree.css_first("title")
    if node is None:
        return ""
    text = node.text()
    if "<" in text:  # <title> is raw text: `<title><strong>socat</strong></title>` is markup
        text = LexborHTMLParser(f"<body>{text}</body>").body.text()  # type: ignore[union-attr]
    return _SPACES.sub(" ", text).strip()


def _is_article_header(node: LexborNode) -> bool:
    if node.tag != "header" or node.css_first("h1, h2, h3, h4, h5, h6") is None:
        return False
    parent = node.parent
    while parent is not None:
        if parent.tag in ("main", "article") or parent.attributes.get("role") == "main":
            return True
        parent = parent.parent
    return False


def _content_root(tree: LexborHTMLParser) -> LexborNode | None:
    for selector in _MAIN_SELECTORS:
        candidates = tree.css(selector)
        if candidates:
            best = max(candidates, key=lambda node: len(node.text()))
            if best.text().strip():
                return best
    return tree.body or tree.root


class _Walker:
    """Turns the DOM into sections: headings open sections, blocks become paragraphs.

    With `drop_links`, a block that is only links (separators and words like "Next",
    "Up", "Index" aside) is dropped when it holds a navigation word (a link bar) or three
    or more links into pages' sections (`#anchor`: an in-page table of contents).
    """

    def __init__(self, *, drop_links: bool = True, budget: Budget | None = None) -> None:
        self._budget = budget or Budget()
        self._steps = 0
        self._drop_links = drop_links
        self._path: list[tuple[int, str]] = []
        self._inline: list[str] = []
        self._plain: list[str] = []  # the block's text outside links
        self._links = 0
        self._anchor_links = 0
        self._link_texts: list[str] = []
        self._link_depth = 0
        self._blocks: list[str] = []
        self._separators: list[str] = []
        self._sections: list[Section] = []

    def walk(self, root: LexborNode) -> list[Section]:
        stack: list[tuple[LexborNode, bool]] = [(root, True)]
        while stack:
            node, entering = stack.pop()
            self._steps += 1
            if self._steps % 2048 == 0:
                self._budget.check()
            if not entering:
                if node.tag == "a":
                    self._link_depth -= 1
                else:
                    self._end_block(node.tag)
                continue
            tag = node.tag
            if node.is_text_node:
                text = _SPACES.sub(" ", node.text_content or "")
                self._inline.append(text)
                if self._link_depth:
                    self._link_texts[-1] += text
                else:
                    self._plain.append(text)
                continue
            if not node.is_element_node:
                continue
            if tag in _HEADING_TAGS:
                self._heading(_HEADING_TAGS[tag], _heading_text(node))
            elif tag == "pre":
                self._flush_block()
                self._add_block(_preformatted(node), "\n\n")
            elif tag == "math":
                self._inline.append(f" {_math_text(node)} ")
            elif tag == "tr":
                self._flush_block()
                if not (self._drop_links and _is_link_bar_row(node)):
                    self._add_block(_table_row(node), "\n")
            elif tag == "br":
                self._inline.append("\n")
            elif tag == "img":
                continue
            else:
                href = node.attributes.get("href") if tag == "a" else None
                if href:
                    self._links += 1
                    self._anchor_links += "#" in href
                    self._link_texts.append("")
                    self._link_depth += 1
                    stack.append((node, False))
                elif tag in _BLOCK_TAGS or tag in _LINE_TAGS:
                    self._flush_block()
                    stack.append((node, False))
                children = list(node.iter(include_text=True))
                stack.extend((child, True) for child in reversed(children))
        self._flush_block()
        self._flush_section()
        return self._sections

    def _end_block(self, tag: str | None) -> None:
        self._flush_block("\n" if tag in _LINE_TAGS else "\n\n")

    def _heading(self, level: int, text: str) -> None:
        self._flush_block()
        self._flush_section()
        if not text:
            return
        while self._path and self._path[-1][0] >= level:
            self._path.pop()
        self._path.append((level, text))

    def _flush_block(self, separator: str = "\n\n") -> None:
        links, anchors, plain = self._links, self._anchor_links, "".join(self._plain)
        link_texts = self._link_texts
        self._links, self._anchor_links, self._plain, self._link_texts = 0, 0, [], []
        if not self._inline:
            return
        raw = "".join(self._inline)
        self._inline = []
        if self._drop_links and links and not _LINK_SEPARATORS.sub("", _NAV_WORDS.sub("", plain)):
            nav = _NAV_WORDS.search(plain) or any(_NAV_LINK.fullmatch(t) for t in link_texts)
            if nav or (links >= 3 and anchors == links):
                return
        lines = (_SPACES.sub(" ", line).strip() for line in raw.split("\n"))
        self._add_block(tidy("\n".join(line for line in lines if line)), separator)

    def _add_block(self, text: str, separator: str) -> None:
        if text:
            self._budget.add_chars(len(text))
            self._blocks.append(text)
            self._separators.append(separator)

    def _flush_section(self) -> None:
        if not self._blocks:
            return
        pieces: list[str] = []
        for index, block in enumerate(self._blocks):
            if index:
                pieces.append(self._separators[index - 1])
            pieces.append(block)
        text = "".join(pieces).strip("\n")
        heading = HEADING_SEPARATOR.join(title for _, title in self._path)
        if text:
            self._sections.append(Section(heading=heading, text=text))
        self._blocks = []
        self._separators = []


def _heading_text(node: LexborNode) -> str:
    text = _SPACES.sub(" ", node.text()).strip()
    return _PERMALINK_MARK.sub("", text)


def _preformatted(node: LexborNode) -> str:
    for line_break in node.css("br"):
        line_break.replace_with("\n")
    return tidy_preformatted(node.text())


def _math_text(node: LexborNode) -> str:
    """MathML as its TeX source (the `alttext`), which is what people type when searching."""
    tex = node.attributes.get("alttext") or ""
    if not tex:
        annotation = node.css_first("annotation")
        tex = annotation.text() if annotation is not None else node.text(separator=" ")
    tex = _SPACES.sub(" ", tex).strip()
    wrapped = _DISPLAYSTYLE.match(tex)
    return wrapped.group(1).strip() if wrapped else tex


def _is_link_bar_row(row: LexborNode) -> bool:
    """A table row of navigation links only ("Prev | Up | Next" in DocBook-style pages)."""
    links = [_SPACES.sub(" ", a.text()) for a in row.css("a[href]")]
    if not links or not any(_NAV_LINK.fullmatch(text) for text in links):
        return False
    rest = _SPACES.sub(" ", row.text(separator=" "))
    for text in links:
        rest = rest.replace(text.strip(), " ", 1)
    return not _LINK_SEPARATORS.sub("", _NAV_WORDS.sub("", rest))


def _table_row(row: LexborNode) -> str:
    cells = [
        _SPACES.sub(" ", child.text(separator=" ")).strip()
        for child in row.iter()
        if child.tag in ("td", "th")
    ]
    while cells and not cells[-1]:
        cells.pop()
    return " | ".join(cells) if any(cells) else ""
