# Copyright: safeq.hardening contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tokenize an nft script and check that it only touches one table.

The tokenizer follows the nft scanner (nftables 1.0): ``#`` starts a comment to the end of the
line (also right after a word: ``a#b`` is ``a``), a double-quoted string ends at the next ``"``
(no escapes, no newline inside), ``;`` and newlines separate statements, a backslash right before
a newline joins the lines, spaces and tabs separate words. Every other control character (``\\r``
included) is refused: nft treats them as junk, and refusing them keeps this reading and nft's
the same.

``check_table_script(text, family, table)`` accepts only these top-level statements::

    table <family> <table>              (create the table if missing)
    delete table <family> <table>
    flush table <family> <table>
    table <family> <table> { ... }      (a balanced block)

and refuses ``include``, ``define``, ``redefine``, ``undefine`` and ``$variables`` anywhere
outside strings. Errors raise ``NftScriptError`` naming the line and the offending statement.

Pure Python 3 standard library (runs on the target inside the nftables_table module).
"""

from __future__ import annotations

from collections import namedtuple

FORBIDDEN_WORDS = frozenset(("include", "define", "redefine", "undefine"))
MAX_STATEMENT_CHARS = 120

Token = namedtuple("Token", "kind text line")
"""kind: ``word``, ``string``, ``{``, ``}`` or ``sep`` (``;`` or a newline)."""

Statement = namedtuple("Statement", "line action")
"""An accepted top-level statement: ``action`` is create, delete, flush or define (a block)."""

_WORD_END = frozenset(' \t\n;{}"#')
_BREAKS = ("sep", "{", "}")


class NftScriptError(ValueError):
    """The script is refused; ``line``, ``statement`` and ``reason`` say where and why."""

    def __init__(self, line, statement, reason):
        self.line = line
        self.statement = statement
        self.reason = reason
        super().__init__("line %d: %s: %s" % (line, reason, statement))


def _shorten(text):
    text = " ".join(text.split())
    if len(text) > MAX_STATEMENT_CHARS:
        return text[:MAX_STATEMENT_CHARS - 3] + "..."
    return text


def _source_line(text, line):
    return text.split("\n")[line - 1]


def _check_characters(text):
    line = 1
    for char in text:
        if char == "\n":
            line += 1
        elif (ord(char) < 32 and char != "\t") or ord(char) == 127:
            raise NftScriptError(line, _shorten(repr(_source_line(text, line))),
                                 "control character %r is not allowed" % char)


def tokenize(text):
    """List of ``Token`` of ``text``; comments and line continuations are dropped."""
    _check_characters(text)
    tokens = []
    line = 1
    index = 0
    end = len(text)
    while index < end:
        char = text[index]
        if char == "\n":
            tokens.append(Token("sep", "\n", line))
            line += 1
            index += 1
        elif char in " \t":
            index += 1
        elif char == "\\" and text.startswith("\n", index + 1):
            line += 1
            index += 2
        elif char == "#":
            newline = text.find("\n", index)
            index = end if newline < 0 else newline
        elif char == '"':
            close = text.find('"', index + 1)
            newline = text.find("\n", index + 1)
            if close < 0 or 0 <= newline < close:
                raise NftScriptError(line, _shorten(_source_line(text, line)), "unterminated string")
            tokens.append(Token("string", text[index:close + 1], line))
            index = close + 1
        elif char in "{};":
            tokens.append(Token("sep" if char == ";" else char, char, line))
            index += 1
        else:
            start = index
            while index < end and text[index] not in _WORD_END and not text.startswith("\\\n", index):
                index += 1
            tokens.append(Token("word", text[start:index], line))
    return tokens


def _text(tokens):
    return _shorten(" ".join(token.text for token in tokens if token.kind != "sep"))


def _inner_statement(tokens, position):
    """Tokens of the innermost statement around ``tokens[position]`` (between separators/braces)."""
    start = position
    while start > 0 and tokens[start - 1].kind not in _BREAKS:
        start -= 1
    stop = position
    while stop < len(tokens) and tokens[stop].kind not in _BREAKS:
        stop += 1
    return tokens[start:stop]


def _check_token(tokens, position):
    token = tokens[position]
    if token.kind != "word":
        return
    if token.text in FORBIDDEN_WORDS:
        reason = "'%s' is not allowed" % token.text
    elif "$" in token.text:
        reason = "variables ($) are not allowed"
    else:
        return
    raise NftScriptError(token.line, _text(_inner_statement(tokens, position)), reason)


def split_statements(text):
    """Top-level statements of ``text``, each a list of tokens (a block keeps its braces).

    Raises NftScriptError on unbalanced braces, unterminated strings, control characters and
    forbidden words or variables anywhere outside strings.
    """
    tokens = tokenize(text)
    statements = []
    current = []
    opened = []
    for position, token in enumerate(tokens):
        _check_token(tokens, position)
        if token.kind == "sep" and not opened:
            if current:
                statements.append(current)
            current = []
            continue
        if token.kind == "{":
            opened.append(position)
        elif token.kind == "}":
            if not opened:
                raise NftScriptError(token.line, _text(current + [token]), "unbalanced '}'")
            opened.pop()
        current.append(token)
    if opened:
        start = opened[0]
        while start > 0 and tokens[start - 1].kind not in _BREAKS:
            start -= 1
        first = tokens[opened[0]]
        raise NftScriptError(first.line, _text(tokens[start:opened[0] + 1]), "'{' is never closed")
    if current:
        statements.append(current)
    return statements


def _statement_text(statement):
    """The statement with its first block abridged, e.g. ``table inet t { ... } flush ruleset``."""
    kinds = [token.kind for token in statement]
    if "{" not in kinds:
        return _text(statement)
    opening = kinds.index("{")
    tail = statement[_closing_brace(kinds, opening) + 1:]
    return _shorten(" ".join(part for part in (_text(statement[:opening]), "{ ... }", _text(tail)) if part))


def check_table_script(text, family, table):
    """Check that ``text`` only creates, deletes, flushes or defines table ``family`` ``table``.

    Returns the accepted top-level statements as a list of ``Statement(line, action)`` with action
    ``create``, ``delete``, ``flush`` or ``define``; raises NftScriptError for anything else.
    """
    accepted = []
    for statement in split_statements(text):
        kinds = [token.kind for token in statement]
        words = [token.text for token in statement]
        line = statement[0].line
        action = None
        if "{" in kinds:
            brace = kinds.index("{")
            if (words[:brace] == ["table", family, table] and kinds[:brace] == ["word"] * 3
                    and kinds[-1] == "}" and _closing_brace(kinds, brace) == len(kinds) - 1):
                action = "define"
        elif kinds == ["word"] * len(kinds):
            action = {
                ("table", family, table): "create",
                ("delete", "table", family, table): "delete",
                ("flush", "table", family, table): "flush",
            }.get(tuple(words))
        if action is None:
            raise NftScriptError(line, _statement_text(statement),
                                 "statement outside table %s %s refused" % (family, table))
        accepted.append(Statement(line, action))
    return accepted


def _closing_brace(kinds, opening):
    depth = 0
    for position in range(opening, len(kinds)):
        if kinds[position] == "{":
            depth += 1
        elif kinds[position] == "}":
            depth -= 1
            if depth == 0:
                return position
    return -1
