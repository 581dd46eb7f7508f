"""Go text/template source to tokens.

Text outside ``{{ }}`` becomes TEXT tokens (already trimmed by ``{{-`` and
``-}}`` markers); each action becomes LEFT, its tokens, RIGHT. Comments
``{{/* */}}`` vanish here apart from their trim markers. Every token carries its
1-based line and column in the template source so syntax errors can point at
it. The rules follow Go's own lexer: a trim marker is a dash with white space
on its inner side, ``-3`` is a number, identifiers must end at a terminator.
"""

from __future__ import annotations

import bisect
import enum

import attrs

from orkestra_trio.katalog._gotemplate.errors import TemplateSyntaxError

LEFT_DELIM = "{{"
RIGHT_DELIM = "}}"
SPACE_CHARS = " \t\r\n"


class Kind(enum.Enum):
    TEXT = "text"
    LEFT = "{{"
    RIGHT = "}}"
    FIELD = "field"  # .name  (value: the name)
    DOT = "."
    VARIABLE = "variable"  # $ or $name  (value: the whole "$name")
    IDENTIFIER = "identifier"  # keywords, function names, true/false/nil
    STRING = "string"  # value: the decoded string
    NUMBER = "number"  # value: the source text
    CHAR = "char"  # value: the decoded character
    PIPE = "|"
    LPAREN = "("
    RPAREN = ")"
    DECLARE = ":="
    ASSIGN = "="
    COMMA = ","
    EOF = "end of template"


@attrs.frozen
class Token:
    kind: Kind
    value: str
    line: int
    column: int
    # White space right before this token inside an action: ".a .b" is two
    # arguments, ".a.b" one chained field; Go's parser tells them apart so.
    spaced: bool = False


_SIMPLE_ESCAPES = {
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    "\\": "\\",
}


def _is_alnum(char: str) -> bool:
    return char == "_" or char.isalnum()


class _Lexer:
    def __init__(self, source: str) -> None:
        self.src = source
        self.tokens: list[Token] = []
        self._line_starts = [0]
        for index, char in enumerate(source):
            if char == "\n":
                self._line_starts.append(index + 1)

    # -- positions ---------------------------------------------------------

    def position(self, offset: int) -> tuple[int, int]:
        line_index = bisect.bisect_right(self._line_starts, offset) - 1
        return line_index + 1, offset - self._line_starts[line_index] + 1

    def error(self, message: str, offset: int) -> TemplateSyntaxError:
        line, column = self.position(offset)
        return TemplateSyntaxError(message, line, column)

    def emit(self, kind: Kind, value: str, offset: int, spaced: bool = False) -> None:
        line, column = self.position(offset)
        self.tokens.append(Token(kind, value, line, column, spaced))

    # -- text and delimiters -------------------------------------------------

    def run(self) -> list[Token]:
        src = self.src
        pos = 0
        trim_next_text = False
        while True:
            start = src.find(LEFT_DELIM, pos)
            text_end = len(src) if start < 0 else start
            text_start = pos
            if trim_next_text:
                while text_start < text_end and src[text_start] in SPACE_CHARS:
                    text_start += 1
            if start < 0:
                self._emit_text(text_start, text_end)
                break
            inner = start + len(LEFT_DELIM)
            trim_left = src.startswith("-", inner) and src[inner + 1 : inner + 2] in tuple(
                SPACE_CHARS
            )
            if trim_left:
                while text_end > text_start and src[text_end - 1] in SPACE_CHARS:
                    text_end -= 1
                inner += 2
            self._emit_text(text_start, text_end)
            if src.startswith("/*", inner):
                pos, trim_next_text = self._comment(start, inner)
            else:
                pos, trim_next_text = self._action(start, inner)
        self.emit(Kind.EOF, "", len(src))
        return self.tokens

    def _emit_text(self, start: int, end: int) -> None:
        if end > start:
            self.emit(Kind.TEXT, self.src[start:end], start)

    def _comment(self, action_start: int, inner: int) -> tuple[int, bool]:
        src = self.src
        close = src.find("*/", inner + 2)
        if close < 0:
            raise self.error("unclosed comment", action_start)
        after = close + 2
        if src.startswith(RIGHT_DELIM, after):
            return after + len(RIGHT_DELIM), False
        if src[after : after + 1] in tuple(SPACE_CHARS) and src.startswith(
            "-" + RIGHT_DELIM, after + 1
        ):
            return after + 1 + 1 + len(RIGHT_DELIM), True
        raise self.error("comment ends before closing delimiter", after)

    # -- inside an action ----------------------------------------------------

    def _action(self, action_start: int, pos: int) -> tuple[int, bool]:
        src = self.src
        self.emit(Kind.LEFT, LEFT_DELIM, action_start)
        paren_depth = 0
        while True:
            spaced = False
            while pos < len(src) and src[pos] in SPACE_CHARS:
                pos += 1
                spaced = True
            if spaced and src.startswith("-" + RIGHT_DELIM, pos):
                self.emit(Kind.RIGHT, RIGHT_DELIM, pos)
                return pos + 1 + len(RIGHT_DELIM), True
            if src.startswith(RIGHT_DELIM, pos):
                if paren_depth > 0:
                    raise self.error("unclosed left paren", pos)
                self.emit(Kind.RIGHT, RIGHT_DELIM, pos)
                return pos + len(RIGHT_DELIM), False
            if pos >= len(src):
                raise self.error("unclosed action", action_start)
            char = src[pos]
            if char == "(":
                paren_depth += 1
                self.emit(Kind.LPAREN, char, pos, spaced)
                pos += 1
            elif char == ")":
                paren_depth -= 1
                if paren_depth < 0:
                    raise self.error("unexpected right paren", pos)
                self.emit(Kind.RPAREN, char, pos, spaced)
                pos += 1
            elif char == "|":
                self.emit(Kind.PIPE, char, pos, spaced)
                pos += 1
            elif char == ",":
                self.emit(Kind.COMMA, char, pos, spaced)
                pos += 1
            elif char == ":":
                if not src.startswith(":=", pos):
                    raise self.error("expected :=", pos)
                self.emit(Kind.DECLARE, ":=", pos, spaced)
                pos += 2
            elif char == "=":
                self.emit(Kind.ASSIGN, char, pos, spaced)
                pos += 1
            elif char == '"':
                pos = self._quoted_string(pos, spaced)
            elif char == "`":
                pos = self._raw_string(pos, spaced)
            elif char == "'":
                pos = self._char_constant(pos, spaced)
            elif char == "$":
                end = self._scan_name(pos + 1)
                self._require_terminator(end)
                self.emit(Kind.VARIABLE, src[pos:end], pos, spaced)
                pos = end
            elif char == "." and not src[pos + 1 : pos + 2].isdigit():
                end = self._scan_name(pos + 1)
                if end == pos + 1:
                    self._require_terminator(end)
                    self.emit(Kind.DOT, ".", pos, spaced)
                else:
                    self._require_terminator(end)
                    self.emit(Kind.FIELD, src[pos + 1 : end], pos, spaced)
                pos = end
            elif char in "+-." or char.isdigit():
                pos = self._number(pos, spaced)
            elif _is_alnum(char):
                end = self._scan_name(pos)
                self._require_terminator(end)
                self.emit(Kind.IDENTIFIER, src[pos:end], pos, spaced)
                pos = end
            else:
                raise self.error(f"unexpected {char!r} in action", pos)

    def _scan_name(self, pos: int) -> int:
        src = self.src
        while pos < len(src) and _is_alnum(src[pos]):
            pos += 1
        return pos

    def _require_terminator(self, pos: int) -> None:
        src = self.src
        if pos >= len(src) or src[pos] in SPACE_CHARS or src[pos] in ".,|:)(":
            return
        if src.startswith(RIGHT_DELIM, pos) or src.startswith("=", pos):
            return
        raise self.error(f"unexpected {src[pos]!r} after name", pos)

    def _number(self, start: int, spaced: bool) -> int:
        src = self.src
        pos = start
        if src[pos] in "+-":
            pos += 1
        digits = "0123456789_"
        decimal = True
        if src.startswith(("0x", "0X"), pos):
            digits, decimal = "0123456789abcdefABCDEF_", False
            pos += 2
        elif src.startswith(("0o", "0O"), pos):
            digits, decimal = "01234567_", False
            pos += 2
        elif src.startswith(("0b", "0B"), pos):
            digits, decimal = "01_", False
            pos += 2
        while pos < len(src) and src[pos] in digits:
            pos += 1
        if decimal:
            if src[pos : pos + 1] == ".":
                pos += 1
                while pos < len(src) and src[pos] in digits:
                    pos += 1
            if src[pos : pos + 1] in ("e", "E"):
                pos += 1
                if src[pos : pos + 1] in ("+", "-"):
                    pos += 1
                while pos < len(src) and src[pos] in digits:
                    pos += 1
        if pos < len(src) and (_is_alnum(src[pos]) or src[pos] == "."):
            raise self.error(f"bad number syntax: {src[start : pos + 1]!r}", start)
        text = src[start:pos]
        if text in ("+", "-", "."):
            raise self.error(f"bad number syntax: {text!r}", start)
        self.emit(Kind.NUMBER, text, start, spaced)
        return pos

    def _quoted_string(self, start: int, spaced: bool) -> int:
        src = self.src
        pos = start + 1
        out: list[str] = []
        while True:
            if pos >= len(src) or src[pos] == "\n":
                raise self.error("unterminated quoted string", start)
            char = src[pos]
            if char == '"':
                break
            if char == "\\":
                decoded, pos = self._escape(pos, '"')
                out.append(decoded)
                continue
            out.append(char)
            pos += 1
        self.emit(Kind.STRING, "".join(out), start, spaced)
        return pos + 1

    def _raw_string(self, start: int, spaced: bool) -> int:
        end = self.src.find("`", start + 1)
        if end < 0:
            raise self.error("unterminated raw quoted string", start)
        # Go drops carriage returns from raw strings.
        self.emit(Kind.STRING, self.src[start + 1 : end].replace("\r", ""), start, spaced)
        return end + 1

    def _char_constant(self, start: int, spaced: bool) -> int:
        src = self.src
        pos = start + 1
        if pos >= len(src) or src[pos] in "\n'":
            raise self.error("malformed character constant", start)
        if src[pos] == "\\":
            decoded, pos = self._escape(pos, "'")
        else:
            decoded, pos = src[pos], pos + 1
        if src[pos : pos + 1] != "'":
            raise self.error("malformed character constant", start)
        self.emit(Kind.CHAR, decoded, start, spaced)
        return pos + 1

    def _escape(self, pos: int, quote: str) -> tuple[str, int]:
        """Decode the escape at ``pos`` (a backslash) as Go does inside a literal."""
        src = self.src
        code = src[pos + 1 : pos + 2]
        if code in _SIMPLE_ESCAPES:
            return _SIMPLE_ESCAPES[code], pos + 2
        if code == quote:
            return quote, pos + 2
        widths = {"x": 2, "u": 4, "U": 8}
        if code in widths:
            digits = src[pos + 2 : pos + 2 + widths[code]]
            if len(digits) != widths[code] or any(
                c not in "0123456789abcdefABCDEF" for c in digits
            ):
                raise self.error("invalid escape in string", pos)
            value = int(digits, 16)
            if value > 0x10FFFF or 0xD800 <= value <= 0xDFFF:
                raise self.error("invalid Unicode code point in escape", pos)
            return chr(value), pos + 2 + widths[code]
        if code and code in "01234567":
            digits = src[pos + 1 : pos + 4]
            if len(digits) != 3 or any(c not in "01234567" for c in digits):
                raise self.error("invalid octal escape in string", pos)
            value = int(digits, 8)
            if value > 255:
                raise self.error("octal escape value > 255", pos)
            return chr(value), pos + 4
        raise self.error("unknown escape sequence in string", pos)


def tokenize(source: str) -> list[Token]:
    """Tokens of ``source``, ending with EOF; raises TemplateSyntaxError."""
    return _Lexer(source).run()
