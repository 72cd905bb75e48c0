"""Go's ``net/mail.ParseAddress``: what cert-manager accepts in ``spec.emailAddresses``.

cert-manager parses each address with Go's RFC 5322 parser, reports the parser's error message
(``mail: missing '@' or angle-addr``, ``mail: expected comma``...) and then requires the parsed
address to equal the input (no display names, comments or groups). This module reproduces the
parser's behaviour and messages (Go 1.26): addr-spec first, then name-addr, groups, parenthesised
comments and RFC 2047 encoded words in display names (only the charsets Go decodes itself are
supported; any other makes Go fail with ``charset not supported``). Linear time: every loop
consumes input. Pure.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Final

from certkeeper.api.gojson import go_quote as _go_quote
from certkeeper.validation.gonet import parse_ip

_SPECIALS: Final = frozenset('()<>[]:;@\\,"')
_SPACE: Final = " \t"


class MailError(ValueError):
    """An address Go's ``net/mail`` refuses; the message is Go's."""


@dataclass(frozen=True, slots=True)
class Address:
    """A parsed address: display name (may be empty) and ``local@domain``."""

    name: str
    address: str


def _go_rune(ch: str) -> str:
    """Go's ``%q`` of a rune."""
    if ch == "'":
        return "'\\''"
    quoted = _go_quote(ch)[1:-1]
    return "'" + quoted.replace('\\"', '"') + "'"


def _is_vchar(ch: str) -> bool:
    return "!" <= ch <= "~" or ord(ch) >= 0x80


def _is_atext(ch: str, *, dot: bool) -> bool:
    if ch == ".":
        return dot
    return ch not in _SPECIALS and _is_vchar(ch)


def _is_qtext(ch: str) -> bool:
    return ch not in '\\"' and _is_vchar(ch)


def _is_dtext(ch: str) -> bool:
    return ch not in "[]\\" and _is_vchar(ch)


def _q_decode(text: str) -> bytes | None:
    out = bytearray()
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "_":
            out.append(0x20)
        elif ch == "=":
            pair = text[i + 1 : i + 3]
            if i + 2 >= len(text) or len(pair) != 2 or not all(c in "0123456789abcdefABCDEF" for c in pair):
                return None
            out.append(int(pair, 16))
            i += 2
        elif " " <= ch <= "~" or ch in "\n\r\t":
            out.append(ord(ch))
        else:
            return None
        i += 1
    return bytes(out)


def _decode_rfc2047(word: str) -> tuple[str, bool]:
    """(text, is_encoded) for one word; malformed encoded words stay plain, as Go ignores them.

    Raises :class:`MailError` for a well-formed word in a charset Go does not decode itself.
    """
    if len(word) < 8 or not word.startswith("=?") or not word.endswith("?=") or word.count("?") != 4:
        return word, False
    charset, _, rest = word[2:-2].partition("?")
    encoding, _, text = rest.partition("?")
    if not charset or len(encoding) != 1:
        return word, False
    content: bytes | None
    if encoding in "Bb":
        try:
            content = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            content = None
    elif encoding in "Qq":
        content = _q_decode(text)
    else:
        content = None
    if content is None:
        return word, False
    lowered = charset.lower()
    if lowered == "utf-8":
        return content.decode("utf-8", "replace"), True
    if lowered == "iso-8859-1":
        return content.decode("latin-1"), True
    if lowered == "us-ascii":
        return "".join(chr(b) if b < 0x80 else "\ufffd" for b in content), True
    raise MailError(f"charset not supported: {_go_quote(lowered)}")


class _Parser:
    """One pass over ``text``; ``pos`` is where the unread rest starts (Go's ``p.s``)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    @property
    def rest(self) -> str:
        return self.text[self.pos :]

    def empty(self) -> bool:
        return self.pos >= len(self.text)

    def peek(self, ch: str) -> bool:
        return self.text.startswith(ch, self.pos)

    def skip_space(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in _SPACE:
            self.pos += 1

    def consume(self, ch: str) -> bool:
        if self.peek(ch):
            self.pos += 1
            return True
        return False

    def skip_cfws(self) -> bool:
        self.skip_space()
        while self.consume("("):
            _, ok = self.consume_comment()
            if not ok:
                return False
            self.skip_space()
        return True

    def consume_comment(self) -> tuple[str, bool]:
        depth = 1
        out: list[str] = []
        text = self.text
        i = self.pos
        while i < len(text) and depth:
            if text[i] == "\\" and len(text) - i > 1:
                i += 1
            elif text[i] == "(":
                depth += 1
            elif text[i] == ")":
                depth -= 1
            if depth:
                out.append(text[i])
            i += 1
        self.pos = i
        return "".join(out), depth == 0

    def consume_atom(self, *, dot: bool, permissive: bool) -> str:
        start = i = self.pos
        while i < len(self.text) and _is_atext(self.text[i], dot=dot):
            i += 1
        if i == start:
            raise MailError("mail: invalid string")
        atom = self.text[start:i]
        self.pos = i
        if not permissive:
            if atom.startswith("."):
                raise MailError("mail: leading dot in atom")
            if ".." in atom:
                raise MailError("mail: double dot in atom")
            if atom.endswith("."):
                raise MailError("mail: trailing dot in atom")
        return atom

    def consume_quoted_string(self) -> str:
        out: list[str] = []
        escaped = False
        text = self.text
        i = self.pos + 1
        while True:
            if i >= len(text):
                raise MailError("mail: unclosed quoted-string")
            ch = text[i]
            if escaped:
                if not _is_vchar(ch) and ch not in _SPACE:
                    raise MailError(f"mail: bad character in quoted-string: {_go_rune(ch)}")
                out.append(ch)
                escaped = False
            elif _is_qtext(ch) or ch in _SPACE:
                out.append(ch)
            elif ch == '"':
                break
            elif ch == "\\":
                escaped = True
            else:
                raise MailError(f"mail: bad character in quoted-string: {_go_rune(ch)}")
            i += 1
        self.pos = i + 1
        return "".join(out)

    def consume_domain_literal(self) -> str:
        if not self.consume("["):
            raise MailError('mail: missing "[" in domain-literal')
        text = self.text
        start = i = self.pos
        while True:
            if i >= len(text):
                raise MailError("mail: unclosed domain-literal")
            if text[i] == "]":
                break
            if not _is_dtext(text[i]):
                raise MailError(f"mail: bad character in domain-literal: {_go_rune(text[i])}")
            i += 1
        literal = text[start:i]
        self.pos = i + 1
        if parse_ip(literal) is None:
            raise MailError(f"mail: invalid IP address in domain-literal: {_go_quote(literal)}")
        return f"[{literal}]"

    def consume_addr_spec(self) -> str:
        saved = self.pos
        try:
            self.skip_space()
            if self.empty():
                raise MailError("mail: no addr-spec")
            if self.peek('"'):
                local = self.consume_quoted_string()
                if not local:
                    raise MailError("mail: empty quoted string in addr-spec")
            else:
                local = self.consume_atom(dot=True, permissive=False)
            if not self.consume("@"):
                raise MailError("mail: missing @ in addr-spec")
            self.skip_space()
            if self.empty():
                raise MailError("mail: no domain in addr-spec")
            domain = self.consume_domain_literal() if self.peek("[") else self.consume_atom(dot=True, permissive=False)
        except MailError:
            self.pos = saved
            raise
        return f"{local}@{domain}"

    def consume_phrase(self) -> str:
        words: list[str] = []
        encoded_run: list[str] = []
        error: MailError | None = None
        while True:
            if words and not self.skip_cfws():
                raise MailError("mail: misformatted parenthetical comment")
            self.skip_space()
            if self.empty():
                break
            is_encoded = False
            try:
                if self.peek('"'):
                    word = self.consume_quoted_string()
                else:
                    word, is_encoded = _decode_rfc2047(self.consume_atom(dot=True, permissive=True))
            except MailError as exc:
                error = exc
                break
            if is_encoded:
                encoded_run.append(word)
                continue
            if encoded_run:
                words.append("".join(encoded_run))
                encoded_run = []
            words.append(word)
        if encoded_run:
            words.append("".join(encoded_run))
        if error is not None and not words:
            raise MailError(f"mail: missing word in phrase: {error}")
        return " ".join(words)

    def consume_display_name_comment(self) -> str:
        if not self.consume("("):
            raise MailError("mail: comment does not start with (")
        comment, ok = self.consume_comment()
        if not ok:
            raise MailError("mail: misformatted parenthetical comment")
        words = [word for word in comment.replace("\t", " ").split(" ") if word]
        return " ".join(_decode_rfc2047(word)[0] for word in words)

    def parse_address(self, *, handle_group: bool) -> list[Address]:
        self.skip_space()
        if self.empty():
            raise MailError("mail: no address")
        try:
            spec = self.consume_addr_spec()
        except MailError:
            pass
        else:
            name = ""
            self.skip_space()
            if self.peek("("):
                name = self.consume_display_name_comment()
            return [Address(name, spec)]
        name = ""
        if not self.peek("<"):
            name = self.consume_phrase()
        self.skip_space()
        if handle_group and self.consume(":"):
            return self.consume_group_list()
        if not self.consume("<"):
            if all(_is_atext(ch, dot=True) for ch in name):
                raise MailError("mail: missing '@' or angle-addr")
            raise MailError("mail: no angle-addr")
        spec = self.consume_addr_spec()
        if not self.consume(">"):
            raise MailError("mail: unclosed angle-addr")
        return [Address(name, spec)]

    def consume_group_list(self) -> list[Address]:
        group: list[Address] = []
        self.skip_space()
        if self.consume(";"):
            if not self.skip_cfws():
                raise MailError("mail: misformatted parenthetical comment")
            return group
        while True:
            self.skip_space()
            group.extend(self.parse_address(handle_group=False))
            if not self.skip_cfws():
                raise MailError("mail: misformatted parenthetical comment")
            if self.consume(";"):
                if not self.skip_cfws():
                    raise MailError("mail: misformatted parenthetical comment")
                return group
            if not self.consume(","):
                raise MailError("mail: expected comma")


def parse_address(text: str) -> Address:
    """Go's ``mail.ParseAddress``: one RFC 5322 address, or :class:`MailError` with Go's message."""
    parser = _Parser(text)
    addresses = parser.parse_address(handle_group=True)
    if not parser.skip_cfws():
        raise MailError("mail: misformatted parenthetical comment")
    if not parser.empty():
        raise MailError(f"mail: expected single address, got {_go_quote(parser.rest)}")
    if not addresses:
        raise MailError("mail: empty group")
    if len(addresses) > 1:
        raise MailError("mail: group with multiple addresses")
    return addresses[0]


__all__ = ["Address", "MailError", "parse_address"]
