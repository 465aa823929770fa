"""Drive's ``fields`` parameter: a partial response, e.g. ``nextPageToken,files(id,name)``.

Clients ask for the fields they use and Drive answers with just those; without ``fields`` a
file answers with its defaults (kind, id, name, mimeType). The grammar handled is Drive's
common subset: names separated by commas, sub-selections in parentheses, ``a/b`` paths, ``*``.
"""

from __future__ import annotations

from typing import Any

from services.drive_emulator import errors

Selection = dict[str, "Selection | None"]  # None: the whole value

FILE_DEFAULT = "kind,id,name,mimeType"
LIST_DEFAULT = f"kind,incompleteSearch,nextPageToken,files({FILE_DEFAULT})"


def parse(expression: str) -> Selection:
    """Parse a fields expression; a malformed one is Drive's 400 ``invalidParameter``."""
    selection, rest = _parse_list(expression.replace(" ", ""), 0)
    if rest != len(expression.replace(" ", "")):
        raise errors.bad_request(f"Invalid field selection {expression}", location="fields")
    return selection


def _parse_list(text: str, at: int) -> tuple[Selection, int]:
    selection: Selection = {}
    while at < len(text):
        end = at
        while end < len(text) and text[end] not in ",()":
            end += 1
        path = text[at:end]
        if not path:
            raise errors.bad_request(f"Invalid field selection {text}", location="fields")
        sub: Selection | None = None
        if end < len(text) and text[end] == "(":
            sub, end = _parse_list(text, end + 1)
            if end >= len(text) or text[end] != ")":
                raise errors.bad_request(f"Invalid field selection {text}", location="fields")
            end += 1
        _merge(selection, path.split("/"), sub)
        if end < len(text) and text[end] == ")":
            return selection, end
        at = end + 1 if end < len(text) else end
    return selection, at


def _merge(selection: Selection, path: list[str], sub: Selection | None) -> None:
    head, *tail = path
    if not tail:
        selection[head] = sub
        return
    child = selection.get(head)
    if child is None:
        child = {}
        selection[head] = child
    _merge(child, tail, sub)


def select(value: Any, selection: Selection | None) -> Any:
    """The parts of ``value`` (an object, or a list of objects) the selection names."""
    if selection is None or "*" in selection:
        return value
    if isinstance(value, list):
        return [select(item, selection) for item in value]
    if not isinstance(value, dict):
        return value
    return {key: select(value[key], sub) for key, sub in selection.items() if key in value}
