"""Output of the `ip` front end: iproute2's text and JSON printers.

`Printer` mirrors iproute2's json_print.c: each field is written with a text
form and a JSON key, and the mode (plain, `-j`, `-j -p`) decides which. The
JSON writer reproduces lib/json_writer.c byte for byte, pretty mode included,
so model output can be compared with the real tool's as text.
"""

import io


def _json_str(value: str) -> str:
    out = ['"']
    for ch in value:
        if ch == "\t":
            out.append("\\t")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\f":
            out.append("\\f")
        elif ch == "\b":
            out.append("\\b")
        elif ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


class JsonWriter:
    """lib/json_writer.c."""

    def __init__(self, out: io.StringIO, pretty: bool):
        self.out = out
        self.pretty = pretty
        self.depth = 0
        self.sep = ""

    def _indent(self) -> None:
        self.out.write("    " * self.depth)

    def _eol(self) -> None:
        if self.pretty:
            self.out.write("\n")
            self._indent()

    def _eor(self) -> None:
        if self.sep:
            self.out.write(self.sep)
        self.sep = ","

    def _begin(self, c: str) -> None:
        self._eor()
        self.out.write(c)
        self.depth += 1
        self.sep = ""

    def _end(self, c: str) -> None:
        self.depth -= 1
        if self.sep:
            self._eol()
        self.out.write(c)
        self.sep = ","

    def name(self, name: str) -> None:
        self._eor()
        self._eol()
        self.sep = ""
        self.out.write(_json_str(name))
        self.out.write(": " if self.pretty else ":")

    def start_object(self) -> None:
        self._begin("{")

    def end_object(self) -> None:
        self._end("}")

    def start_array(self) -> None:
        self._begin("[")
        if self.pretty:
            self.out.write(" ")

    def end_array(self) -> None:
        if self.pretty and self.sep:
            self.out.write(" ")
        self.sep = ""
        self._end("]")

    def raw(self, text: str) -> None:
        self._eor()
        self.out.write(text)

    def string(self, value: str) -> None:
        self._eor()
        self.out.write(_json_str(value))

    def destroy(self) -> None:
        self.out.write("\n")


class Printer:
    """print_string/print_uint/... of iproute2 in one object."""

    def __init__(
        self, json: bool = False, pretty: bool = False, details: int = 0, oneline: bool = False
    ):
        self.json = json
        self.pretty = pretty
        self.details = details
        self.oneline = oneline
        self.out = io.StringIO()
        self.jw: JsonWriter | None = None

    @property
    def sl(self) -> str:
        return "\\" if self.oneline else "\n"

    # --- document
    def new_json_obj(self) -> None:
        if self.json:
            self.jw = JsonWriter(self.out, self.pretty)
            self.jw.start_array()

    def delete_json_obj(self) -> None:
        if self.jw is not None:
            self.jw.end_array()
            self.jw.destroy()
            self.jw = None

    def open_object(self, key: str | None = None) -> None:
        if self.jw is not None:
            if key:
                self.jw.name(key)
            self.jw.start_object()

    def close_object(self) -> None:
        if self.jw is not None:
            self.jw.end_object()

    def open_array(self, key: str | None, text: str | None = None) -> None:
        """open_json_array(PRINT_JSON...): text mode prints nothing."""
        if self.jw is not None:
            if key:
                self.jw.name(key)
            self.jw.start_array()

    def close_array(self) -> None:
        if self.jw is not None:
            self.jw.end_array()

    # --- fields
    def fp(self, text: str) -> None:
        """PRINT_FP: text mode only."""
        if self.jw is None:
            self.out.write(text)

    def string(
        self, key: str | None, text: str | None, value: str, json_only: bool = False
    ) -> None:
        if self.jw is not None:
            if key:
                self.jw.name(key)
            self.jw.string(value)
        elif text is not None and not json_only:
            self.out.write(text)

    def number(
        self, key: str | None, text: str | None, value: int, json_only: bool = False
    ) -> None:
        if self.jw is not None:
            if key:
                self.jw.name(key)
            self.jw.raw(str(value))
        elif text is not None and not json_only:
            self.out.write(text)

    def null(self, key: str, text: str) -> None:
        if self.jw is not None:
            self.jw.name(key)
            self.jw.raw("null")
        else:
            self.out.write(text)

    def boolean(self, key: str, text: str, value: bool) -> None:
        if self.jw is not None:
            self.jw.name(key)
            self.jw.raw("true" if value else "false")
        else:
            self.out.write(text)

    def hex0x(self, key: str, text: str, value: int) -> None:
        """print_0xhex: JSON gets the string '0x..'."""
        if self.jw is not None:
            self.jw.name(key)
            self.jw.string(f"{value:#x}" if value else "0")
        else:
            self.out.write(text)

    def getvalue(self) -> str:
        return self.out.getvalue()
