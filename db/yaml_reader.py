"""Read YAML as nodes, keeping line numbers, and check shapes and scalars one key at a time.

PyYAML's ``compose`` gives the node tree with the line of every value, so a
problem is reported as ``FILE:LINE: key.path: what is wrong``. Mapping keys are
checked (required, unknown, given twice: plain ``yaml.safe_load`` would keep the
last of two equal keys silently). Every reader returns None after logging a
problem, so a caller can go on and report the next problem too.
"""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from db.importing import CODE_RE, DATE_RE, IssueLog, Where, read_text
from handlers.i18n import _

STR = "tag:yaml.org,2002:str"
INT = "tag:yaml.org,2002:int"
FLOAT = "tag:yaml.org,2002:float"
BOOL = "tag:yaml.org,2002:bool"
NULL = "tag:yaml.org,2002:null"
TIMESTAMP = "tag:yaml.org,2002:timestamp"

try:
    _Loader: type = yaml.CSafeLoader
except AttributeError:  # PyYAML built without libyaml
    _Loader = yaml.SafeLoader


def compose_file(path: Path, log: IssueLog) -> Node | None:
    """The file's node tree; None (with the problem logged) if unreadable, not YAML, or empty."""
    content = read_text(path, log)
    if content is None:
        return None
    try:
        root = yaml.compose(content, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or str(exc)
        log.add(
            Where(mark.line + 1 if mark else None),
            _("not valid YAML: {problem}").format(problem=problem),
        )
        return None
    except yaml.YAMLError as exc:
        log.add(Where(None), _("not valid YAML: {problem}").format(problem=exc))
        return None
    if root is None or (isinstance(root, ScalarNode) and root.tag == NULL):
        log.add(Where(1), _("the file is empty"))
        return None
    return root


class NodeReader:
    """Typed access to YAML nodes that logs located problems instead of raising."""

    def __init__(self, log: IssueLog) -> None:
        self.log = log
        self._constructor = SafeConstructor()

    @staticmethod
    def where(node: Node, path: str) -> Where:
        return Where(node.start_mark.line + 1, path)

    def fail(self, node: Node, path: str, message: str) -> None:
        self.log.add(self.where(node, path), message)

    def mapping(
        self,
        node: Node,
        path: str,
        *,
        required: tuple[str, ...] = (),
        optional: tuple[str, ...] = (),
        open_ended: bool = False,
    ) -> dict[str, Node] | None:
        """The mapping's values by key; unknown keys refused unless ``open_ended``."""
        if not isinstance(node, MappingNode):
            self.fail(node, path, _("expected a mapping (key: value)"))
            return None
        allowed = set(required) | set(optional)
        values: dict[str, Node] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, ScalarNode) else None
            if key is None:
                self.fail(key_node, path, _("keys must be plain text"))
                continue
            key_path = f"{path}.{key}" if path else key
            if _stray_key(node, value_node):
                self.fail(
                    key_node, key_path, _("a key without a value; quote text that contains a comma")
                )
                continue
            if key in values:
                self.fail(key_node, key_path, _("this key is given twice"))
                continue
            if not open_ended and key not in allowed:
                self.fail(
                    key_node,
                    key_path,
                    _("unknown key; expected one of: {keys}").format(
                        keys=", ".join(sorted(allowed))
                    ),
                )
                continue
            values[key] = value_node
        missing = [k for k in required if k not in values]
        for key in missing:
            self.fail(node, path, _("missing required key {key}").format(key=key))
        return values

    def sequence(self, node: Node, path: str, *, non_empty: bool = True) -> list[Node] | None:
        if not isinstance(node, SequenceNode):
            self.fail(node, path, _("expected a list"))
            return None
        if non_empty and not node.value:
            self.fail(node, path, _("the list is empty"))
            return None
        return list(node.value)

    def text(self, node: Node, path: str, *, max_len: int | None = None) -> str | None:
        """A non-empty scalar, as written (``17`` is the text "17")."""
        if not isinstance(node, ScalarNode) or node.tag == NULL:
            self.fail(node, path, _("expected a text value"))
            return None
        value = str(node.value).strip()
        if not value:
            self.fail(node, path, _("must not be empty"))
            return None
        if max_len is not None and len(value) > max_len:
            self.fail(node, path, _("longer than {max} characters").format(max=max_len))
            return None
        return value

    def code(self, node: Node, path: str, *, max_len: int = 64) -> str | None:
        value = self.text(node, path, max_len=max_len)
        if value is not None and not CODE_RE.fullmatch(value):
            self.fail(
                node,
                path,
                _("{value} is not a valid code (letters, digits, '-', '_' or '.')").format(
                    value=value
                ),
            )
            return None
        return value

    def number(self, node: Node, path: str) -> Decimal | None:
        if isinstance(node, ScalarNode) and node.tag in (INT, FLOAT):
            try:
                value = self._constructor.construct_object(node)
            except (ValueError, yaml.YAMLError):
                value = None
            if isinstance(value, int) or (isinstance(value, float) and math.isfinite(value)):
                try:
                    return Decimal(repr(value))
                except InvalidOperation:
                    pass
        self.fail(node, path, _("expected a number, got {value}").format(value=_shown(node)))
        return None

    def integer(self, node: Node, path: str) -> int | None:
        if isinstance(node, ScalarNode) and node.tag == INT:
            value = self._constructor.construct_object(node)
            if isinstance(value, int):
                return value
        self.fail(node, path, _("expected a whole number, got {value}").format(value=_shown(node)))
        return None

    def date(self, node: Node, path: str) -> dt.date | None:
        """A calendar date written YYYY-MM-DD (quoted or not), checked to exist."""
        if isinstance(node, ScalarNode) and node.tag in (TIMESTAMP, STR):
            raw = str(node.value).strip()
            if DATE_RE.fullmatch(raw):
                try:
                    return dt.date.fromisoformat(raw)
                except ValueError:
                    pass
        self.fail(
            node,
            path,
            _("invalid date {value}; expected YYYY-MM-DD").format(value=_shown(node)),
        )
        return None

    def boolean(self, node: Node, path: str) -> bool | None:
        if isinstance(node, ScalarNode) and node.tag == BOOL:
            return bool(self._constructor.construct_object(node))
        self.fail(node, path, _("expected true or false, got {value}").format(value=_shown(node)))
        return None

    def plain(self, node: Node, path: str) -> Any:
        """The node as JSON-ready data (dates become ISO text)."""
        if isinstance(node, MappingNode):
            data: dict[str, Any] = {}
            for k, v in node.value:
                key_path = f"{path}.{k.value}"
                if _stray_key(node, v):
                    self.fail(
                        k, key_path, _("a key without a value; quote text that contains a comma")
                    )
                data[str(k.value)] = self.plain(v, key_path)
            return data
        if isinstance(node, SequenceNode):
            return [self.plain(v, f"{path}[{i}]") for i, v in enumerate(node.value)]
        try:
            value = self._constructor.construct_object(node)
        except (ValueError, yaml.YAMLError):
            return str(node.value)
        if isinstance(value, dt.date | dt.datetime):
            return value.isoformat()
        if isinstance(value, float) and not math.isfinite(value):
            return str(node.value)
        if isinstance(value, bytes):
            return str(node.value)
        return value


def _stray_key(mapping: MappingNode, value: Node) -> bool:
    """``{a: x, y, z}`` silently makes ``y`` a key: text with an unquoted comma."""
    return (
        bool(mapping.flow_style)
        and isinstance(value, ScalarNode)
        and value.tag == NULL
        and value.value == ""
    )


def _shown(node: Node) -> str:
    if isinstance(node, ScalarNode):
        return str(node.value) if node.value else '""'
    if isinstance(node, MappingNode):
        return _("a mapping")
    return _("a list")
