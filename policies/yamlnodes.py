"""Reading YAML as nodes, so that every value keeps the line it came from.

PyYAML's ``safe_load`` forgets positions and silently keeps the last of two equal keys. Policy
files are instead *composed* to nodes (``yaml.SafeLoader.get_single_node``); the helpers here turn
nodes into plain values one at a time, raising :class:`PolicyError` with the node's line for
anything unexpected (wrong type, duplicate key, unsupported tag).
"""

from __future__ import annotations

import difflib
from collections.abc import Collection
from pathlib import Path

import yaml
from yaml.constructor import SafeConstructor

from .model import PolicyError

Node = yaml.Node

# Scalars we accept; anything else (timestamps, binary, python/* tags) is a type error.
_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_BOOL = "tag:yaml.org,2002:bool"
_NULL = "tag:yaml.org,2002:null"
_MERGE = "tag:yaml.org,2002:merge"
_SCALAR_TAGS = {_STR: "string", _INT: "integer", _FLOAT: "number", _BOOL: "boolean", _NULL: "null"}


def line_of(node: Node) -> int:
    """1-based line where ``node`` starts."""
    return int(node.start_mark.line) + 1


def compose(text: str, path: str) -> Node | None:
    """Compose ``text`` (one YAML document) to its root node; ``None`` for an empty document."""
    loader = yaml.SafeLoader(text)
    try:
        return loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = int(mark.line) + 1 if mark is not None else None
        problem = exc.problem or exc.context or "invalid YAML"
        raise PolicyError(path, line, f"YAML syntax error: {problem}") from None
    except yaml.YAMLError as exc:  # reader errors (control characters) carry no mark
        raise PolicyError(path, None, f"YAML error: {exc}") from None
    finally:
        loader.dispose()


def kind_of(node: Node) -> str:
    """A short human name for the type of ``node`` (used in 'expected X, got Y' messages)."""
    if isinstance(node, yaml.MappingNode):
        return "mapping"
    if isinstance(node, yaml.SequenceNode):
        return "list"
    return _SCALAR_TAGS.get(node.tag, f"value tagged {node.tag}")


class Reader:
    """Turns nodes of one file into values, raising :class:`PolicyError` for that file."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._constructor = SafeConstructor()

    def error(self, node: Node | None, reason: str) -> PolicyError:
        """A :class:`PolicyError` located at ``node`` (or at no line)."""
        return PolicyError(self.path, line_of(node) if node is not None else None, reason)

    def mapping(
        self, node: Node, what: str, allowed: Collection[str]
    ) -> dict[str, tuple[Node, Node]]:
        """The items of a mapping node as ``{key: (key node, value node)}``.

        Rejects non-mappings, non-string keys, duplicate keys and keys outside ``allowed``
        (with a did-you-mean hint).
        """
        if not isinstance(node, yaml.MappingNode):
            raise self.error(node, f"{what} must be a mapping, got {kind_of(node)}")
        items: dict[str, tuple[Node, Node]] = {}
        for key_node, value_node in node.value:
            self._check_key(key_node, what)
            key = str(key_node.value)
            if key in items:
                first = line_of(items[key][0])
                raise self.error(key_node, f"duplicate key '{key}' (first defined at line {first})")
            if key not in allowed:
                raise self.error(key_node, _unknown_key(key, what, allowed))
            items[key] = (key_node, value_node)
        return items

    def check_map_keys(self, node: Node, what: str) -> list[tuple[Node, Node]]:
        """Items of a mapping with arbitrary string keys, still rejecting duplicates."""
        if not isinstance(node, yaml.MappingNode):
            raise self.error(node, f"{what} must be a mapping, got {kind_of(node)}")
        seen: dict[str, Node] = {}
        for key_node, _ in node.value:
            self._check_key(key_node, what)
            key = str(key_node.value)
            if key in seen:
                first = line_of(seen[key])
                raise self.error(key_node, f"duplicate key '{key}' (first defined at line {first})")
            seen[key] = key_node
        return list(node.value)

    def _check_key(self, key_node: Node, what: str) -> None:
        if isinstance(key_node, yaml.ScalarNode) and key_node.tag == _MERGE:
            # Merges would hide which line a value came from; anchors/aliases still work.
            raise self.error(key_node, "YAML merge keys ('<<') are not supported in policy files")
        if not isinstance(key_node, yaml.ScalarNode) or key_node.tag != _STR:
            raise self.error(key_node, f"keys of {what} must be strings, got {kind_of(key_node)}")

    def sequence(self, node: Node, what: str) -> list[Node]:
        """The items of a list node."""
        if not isinstance(node, yaml.SequenceNode):
            raise self.error(node, f"{what} must be a list, got {kind_of(node)}")
        return list(node.value)

    def string(self, node: Node, what: str) -> str:
        """A non-empty string scalar (quoted or plain)."""
        if not isinstance(node, yaml.ScalarNode) or node.tag != _STR:
            raise self.error(node, f"{what} must be a string, got {kind_of(node)}")
        value = str(node.value)
        if not value.strip():
            raise self.error(node, f"{what} must not be empty")
        return value

    def strings(self, node: Node, what: str) -> list[tuple[Node, str]]:
        """A string or a non-empty list of strings, each with its node (for error lines)."""
        if isinstance(node, yaml.SequenceNode):
            items = [(item, self.string(item, f"each item of {what}")) for item in node.value]
            if not items:
                raise self.error(node, f"{what} must not be an empty list")
            return items
        if not isinstance(node, yaml.ScalarNode) or node.tag != _STR:
            raise self.error(
                node, f"{what} must be a string or a list of strings, got {kind_of(node)}"
            )
        return [(node, self.string(node, what))]

    def number(self, node: Node, what: str) -> float:
        """An integer or float scalar (booleans are not numbers here)."""
        if not isinstance(node, yaml.ScalarNode) or node.tag not in (_INT, _FLOAT):
            raise self.error(node, f"{what} must be a number, got {kind_of(node)}")
        value = self._constructor.construct_object(node)
        return float(value)

    def integer(self, node: Node, what: str) -> int:
        """An integer scalar."""
        if not isinstance(node, yaml.ScalarNode) or node.tag != _INT:
            raise self.error(node, f"{what} must be an integer, got {kind_of(node)}")
        return int(self._constructor.construct_object(node))

    def choice(self, node: Node, what: str, choices: Collection[str]) -> str:
        """A string among ``choices``, else ``unknown <what> 'x' (expected one of ...)``."""
        value = self.string(node, what)
        if value not in choices:
            raise self.error(
                node, f"unknown {what} '{value}' (expected one of {', '.join(choices)})"
            )
        return value


def _unknown_key(key: str, what: str, allowed: Collection[str]) -> str:
    close = difflib.get_close_matches(key, list(allowed), n=1)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    return f"unknown key '{key}' in {what} (expected one of {', '.join(allowed)}){hint}"
