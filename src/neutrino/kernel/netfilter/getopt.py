"""glibc's getopt_long as iptables drives it: in order, no error printing, options that grow.

iptables parses its command line with getopt_long and an option string that
starts with "-:" : words that are not options come back one by one (code 1),
a missing argument comes back as ":" and an unknown or ambiguous option as
"?". Long options may be abbreviated to any unambiguous prefix. The table of
long options grows while parsing, as matches and targets are loaded, so the
caller passes the current table to each `next()` call.

A long option is (name, has_arg, code): has_arg 0 none, 1 required, 2
optional (only as --name=value); code is whatever the caller wants back.
"""

NONOPT = 1
MISSING = ":"
UNKNOWN = "?"


class Getopt:
    """A cursor over argv returning (code, optarg) pairs, like successive getopt_long calls."""

    def __init__(self, argv: list[str], shortopts: dict[str, int]):
        self.argv = argv
        self.shortopts = shortopts
        self.optind = 1
        self.nextchar = ""

    def has_arg(self) -> bool:
        """xs_has_arg: the next word exists and is not an option or a `!`."""
        return (
            self.optind < len(self.argv)
            and not self.argv[self.optind].startswith("-")
            and not self.argv[self.optind].startswith("!")
        )

    def take(self) -> str:
        word = self.argv[self.optind]
        self.optind += 1
        return word

    def next(self, longopts: list[tuple[str, int, object]]):
        """The next (code, optarg), or None at the end."""
        argv = self.argv
        if not self.nextchar:
            if self.optind >= len(argv):
                return None
            word = argv[self.optind]
            if word == "--":
                self.optind += 1
                return None
            if not word.startswith("-") or word == "-":
                self.optind += 1
                return NONOPT, word
            if word.startswith("--"):
                return self._long(word[2:], longopts)
            self.nextchar = word[1:]
        return self._short()

    def _long(self, body: str, longopts):
        self.optind += 1
        name, eq, value = body.partition("=")
        found = None
        ambiguous = False
        for opt in longopts:
            if opt[0] == name:
                found = opt
                ambiguous = False
                break
            if opt[0].startswith(name):
                if found is None:
                    found = opt
                elif found[1] != opt[1] or found[2] != opt[2]:
                    ambiguous = True
        if ambiguous or found is None:
            return UNKNOWN, None
        _, has_arg, code = found
        if eq:
            if has_arg == 0:
                return UNKNOWN, None
            return code, value
        if has_arg == 1:
            if self.optind < len(self.argv):
                return code, self.take()
            return MISSING, None
        return code, None

    def _short(self):
        char, rest = self.nextchar[0], self.nextchar[1:]
        self.nextchar = rest
        if not rest:
            self.optind += 1
        has_arg = self.shortopts.get(char)
        if has_arg is None or char == ":":
            return UNKNOWN, None
        if has_arg == 0:
            return char, None
        if rest:
            self.nextchar = ""
            self.optind += 1
            return char, rest
        if has_arg == 2:
            return char, None
        if self.optind < len(self.argv):
            return char, self.take()
        return MISSING, None
