"""Text from outside (files, run records, errors about them) made safe to show in a page."""
from __future__ import annotations

import re

#: What Markdown, GitHub's and Streamlit's additions included, makes something of anywhere in
#: a line: emphasis, code, links and images, HTML, formulas, tables, strike-through, entities.
_MARKDOWN_SIGNS = re.compile(r"([\\`*_\[\]<>#|~$&@])")
#: ... and at the start of a line: list items, headings underlined with = or -.
_LINE_START_SIGNS = re.compile(r"(?m)^([ \t]*)([-+=]|\d+(?=[.)]))")
#: ... and bare web addresses, which GitHub's Markdown makes links of.
_BARE_LINKS = re.compile(r"(?i)(:(?=//)|(?<=\bwww)\.)")


def plain(text: object) -> str:
    """`text` that came from outside (a file's contents or name, a run record, an error about
    them) made safe for st.error, st.caption, st.markdown and the like, which render Markdown:
    every sign Markdown would act on is backslash-escaped (CommonMark allows that for any
    punctuation), so `![x](http://host/x.png)` shows as those characters, never as an image
    fetched from another host, a link, a heading or a formula. Quotes, parentheses and dashes
    that mean nothing there stay as they are."""
    text = _MARKDOWN_SIGNS.sub(r"\\\1", str(text))
    text = _LINE_START_SIGNS.sub(_escape_line_start, text)
    return _BARE_LINKS.sub(r"\\\1", text)


def _escape_line_start(found: re.Match) -> str:
    indent, sign = found.groups()
    if sign.isdigit():   # "1. " or "1) " begins a numbered list: escape its . or )
        return f"{indent}{sign}\\"
    return f"{indent}\\{sign}"


def reason(e: Exception) -> str:
    """An error's message for a page: a KeyError's own text, not its quoted repr."""
    return e.args[0] if isinstance(e, KeyError) and e.args else str(e)
