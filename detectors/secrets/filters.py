"""False-positive control: values that match a rule's shape but are not secrets.

Three families, cheapest first:
- documented example keys and placeholders (``AKIAIOSFODNN7EXAMPLE``, ``YOUR_API_KEY``,
  ``xxxx``, ``<token>``, ``changeme``) -- checked for every rule;
- references to a secret kept elsewhere (``${VAR}``, ``process.env.X``, ``os.environ["X"]``,
  ``{{ secrets.X }}``) -- the value names a secret but is not one;
- value shapes that are identifiers rather than credentials (git SHAs, UUIDs, lockfile integrity
  hashes, dotted property paths, plain words), and values that follow a bare name and a comma
  (an import list, not an assignment) -- only for generic, context-anchored rules, since many
  specific formats legitimately are hex or UUIDs.
Tenant allowlists are not here: the policy engine applies them to every detector alike.
"""

from __future__ import annotations

import regex

# Values AWS, Stripe, GitHub and others print in their documentation, and public values that
# ship inside widely vendored files.
_DOCUMENTED_EXAMPLES = frozenset(
    {
        "AKIAIOSFODNN7EXAMPLE",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "AKIAI44QH8DHBEXAMPLE",
        "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY",
        "ASIAIOSFODNN7EXAMPLE",
        # npm-search's public, search-only Algolia key, shipped inside every vendored Yarn
        # release (.yarn/releases/yarn-*.cjs); gitleaks lists it too (yarnpkg/berry#6201).
        "6fe4476ee5a1832882e326b506d14126",
    }
)

_PLACEHOLDER = regex.compile(
    r"""
    example | placeholder | changeme | change[_-]me | replace[_-]?(?:me|this|with)
    | your[_-]?(?:own[_-]?)?(?:api|access|secret|auth|app|client|private|real|personal)?[_-]?(?:key|token|secret|password|pass|pwd|id)
    | insert[_-]?(?:your|key|token|here) | dummy | redacted | not[_-]?a[_-]?(?:real|secret)
    | fake[_-]?(?:key|token|secret|password) | (?:secret|token|key|password)[_-]?here
    | x{5,} | \*{3,} | \.{3,} | •{3,} | ^<[^<>]*>$ | ^\[[^\[\]]*\]$
    | abcdefghijklm | qwertyuiop
    """,
    regex.VERBOSE | regex.IGNORECASE,
)
# A value that is only the name of what should be there.
_PLACEHOLDER_WORDS = frozenset(
    ["password", "passwd", "pass", "pwd", "secret", "token", "apikey", "api_key", "api-key", "key", "mykey", "mytoken", "mysecret", "mypassword", "changeme", "user", "username", "login", "admin", "root", "guest", "test", "none", "null", "nil"]
)
# One character repeated through a large part of the value (binary key material legitimately
# holds runs of "A", so a run must dominate before it marks a placeholder).
_MONOTONE = regex.compile(r"(.)\1{7,}")

_REFERENCE = regex.compile(
    r"""
    ^(?: \$\{[^}]*\}? | \$\(\S* | \$[A-Za-z_]\w* | %[A-Za-z_]\w*%? | \{\{.*\}?\}? | \#\{[^}]*\}?
       | @[A-Za-z_]\w*@ | <%=? .* | \[\[.*\]\]? )
    | process\.env | import\.meta\.env | os\.environ | os\.getenv | getenv\( | System\.getenv
    | ENV\[ | ENV\.fetch | secrets\.[A-Za-z_] | vars\.[A-Za-z_] | Secrets?Manager
    | config\.get\( | settings\.[A-Z_]{3,} | vault: | ssm: | arn:aws:secretsmanager | !Ref\b
    """,
    regex.VERBOSE,
)

# Value shapes that identify objects rather than authenticate anyone.
_IDENTIFIER_SHAPES = regex.compile(
    r"""
    ^[0-9a-f]{7,64}$                                            # git SHAs, content hashes
    | ^[0-9A-F]{32,64}$
    | ^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$  # UUID
    | ^(?:sha(?:1|224|256|384|512)|md5)[-:=]                    # lockfile integrity, --hash=
    | ^h1:                                                      # go.sum
    | ^[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)+(?:\(\))?$        # dotted property / module path
    | ^[A-Za-z_$][\w$]*\(                                       # a function call
    | ^[a-z]+(?:[_-][a-z]+)*$ | ^[A-Z]+(?:_[A-Z]+)*$             # snake/kebab/CONSTANT words
    | ^[a-z]+(?:[A-Z][a-z]+)+$ | ^(?:[A-Z][a-z]+)+$              # camelCase / PascalCase words
    | ^(?:true|false|null|none|nil|undefined|yes|no|on|off)$
    | ^(?:https?|ftp|file)://                                   # a URL is not itself a key
    | ^/[\w./-]+$ | ^[A-Za-z]:\\                                # filesystem paths
    | ^\d+(?:\.\d+)*$                                           # numbers and versions
    | \b\d{1,4}\.\d{1,4}\.\d{1,4}\b | SNAPSHOT                    # artifact versions
    | ^[A-Za-z_][\w.]*=$ | ^[A-Za-z_][A-Za-z_.]*=[A-Za-z_.]*$      # NAME= with no value
    | ^[A-Za-z]{1,12}\d{0,4}(?:_(?:[A-Za-z]{1,12}\d{0,4}|\d{1,4})){2,}$  # snake_case_X509_names
    """,
    regex.VERBOSE,
)
# Hashes and UUIDs do serve as credentials; when the name says so, the shape proves nothing.
_HEX_OR_UUID = regex.compile(
    r"^[0-9a-fA-F]{7,64}$|^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$"
)
# A comma "assigns" only after a quoted key (("api_key", "..."), setProperty("token", "...")):
# after a bare name it separates items of an import list, a call or a tuple of class names.
_BARE_NAME_THEN_COMMA = regex.compile(r"[\w.-]+[ \t]*,")
_SECRET_NAME = regex.compile(r"(?i)secret|passw|credential|token|api[_.-]?key|private|auth")


def is_documented_example(value: str) -> bool:
    return value in _DOCUMENTED_EXAMPLES


def is_placeholder(value: str) -> bool:
    if value.lower() in _PLACEHOLDER_WORDS or len(set(value)) <= 2 or _PLACEHOLDER.search(value):
        return True
    longest_run = max((len(m.group()) for m in _MONOTONE.finditer(value)), default=0)
    return longest_run > 0.5 * len(value)


def is_reference(value: str) -> bool:
    return bool(_REFERENCE.search(value))


def is_identifier_shape(value: str) -> bool:
    return bool(_IDENTIFIER_SHAPES.search(value))


def rejection_reason(value: str, generic: bool, name: str = "") -> str | None:
    """Why ``value`` is not a secret, or ``None`` when nothing speaks against it.
    ``name`` is the text the rule matched before the value (the identifier, if any)."""
    if is_documented_example(value):
        return "documented-example"
    if is_placeholder(value):
        return "placeholder"
    if is_reference(value):
        return "reference"
    if generic and is_identifier_shape(value):
        if not (_HEX_OR_UUID.search(value) and _SECRET_NAME.search(name)):
            return "identifier"
    if generic and _BARE_NAME_THEN_COMMA.match(name):
        return "list"
    return None
