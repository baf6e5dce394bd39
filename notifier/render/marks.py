"""Marks rendering leaves in a shared body, for what only delivery knows to fill in."""

from __future__ import annotations

#: Where the personal footer goes in a shared body. An HTML comment survives CSS inlining.
PERSONAL_MARK = "<!--notifier:personal-->"
#: Where a digest's web copy URL goes. The URL holds the stored body's id, which exists only
#: once the body is stored, so it is put in at delivery (the same for every reader of the
#: body). Plain characters: it survives HTML escaping, CSS inlining and sits inside `href`.
WEB_COPY_MARK = "notifier-web-copy:"
