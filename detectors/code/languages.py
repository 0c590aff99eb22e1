"""The languages we name, and what names them without looking at the code.

A file extension (from a coding agent's ``Read``/``Edit`` path) or a Markdown fence's info string
is a stronger signal than any classifier, so they are consulted first.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath


@dataclass(frozen=True, slots=True)
class Language:
    id: str
    extensions: tuple[str, ...]
    fence_names: tuple[str, ...] = ()
    file_names: tuple[str, ...] = ()


LANGUAGES: tuple[Language, ...] = (
    Language("python", (".py", ".pyi", ".pyw"), ("python", "py", "python3", "py3")),
    Language("javascript", (".js", ".mjs", ".cjs", ".jsx"), ("javascript", "js", "jsx", "node")),
    Language("typescript", (".ts", ".tsx", ".mts", ".cts"), ("typescript", "ts", "tsx")),
    Language("java", (".java",), ("java",)),
    Language("go", (".go",), ("go", "golang")),
    Language("rust", (".rs",), ("rust", "rs")),
    Language("c", (".c", ".h"), ("c",)),
    Language("cpp", (".cpp", ".cc", ".cxx", ".hpp", ".hh", ".hxx", ".c++"), ("cpp", "c++", "cxx")),
    Language("csharp", (".cs", ".csx"), ("csharp", "c#", "cs")),
    Language("kotlin", (".kt", ".kts"), ("kotlin", "kt")),
    Language("swift", (".swift",), ("swift",)),
    Language("ruby", (".rb", ".rake", ".gemspec"), ("ruby", "rb"), ("Gemfile", "Rakefile")),
    Language("php", (".php", ".phtml"), ("php",)),
    Language("scala", (".scala", ".sc", ".sbt"), ("scala", "sbt")),
    Language(
        "shell",
        (".sh", ".bash", ".zsh", ".ksh"),
        ("shell", "sh", "bash", "zsh", "console", "shell-session"),
        (".bashrc", ".zshrc", ".profile"),
    ),
    Language("sql", (".sql", ".psql", ".ddl"), ("sql", "postgresql", "mysql", "plsql", "tsql")),
    Language("html", (".html", ".htm", ".xhtml"), ("html", "xhtml", "htm")),
    Language("css", (".css", ".scss", ".less"), ("css", "scss", "less")),
    Language("yaml", (".yaml", ".yml"), ("yaml", "yml")),
    Language("hcl", (".tf", ".tfvars", ".hcl"), ("hcl", "terraform", "tf")),
)

LANGUAGE_IDS: tuple[str, ...] = tuple(language.id for language in LANGUAGES)
UNKNOWN = "unknown"

_BY_EXTENSION = {ext: lang.id for lang in LANGUAGES for ext in lang.extensions}
_BY_FILE_NAME = {name: lang.id for lang in LANGUAGES for name in lang.file_names}
_BY_FENCE = {name: lang.id for lang in LANGUAGES for name in lang.fence_names}


def language_from_path(path: str | None) -> str | None:
    """The language a file path names by its extension or well-known name, if any."""
    if not path:
        return None
    name = PurePosixPath(path.replace("\\", "/")).name
    if name in _BY_FILE_NAME:
        return _BY_FILE_NAME[name]
    suffix = PurePosixPath(name).suffix.lower()
    return _BY_EXTENSION.get(suffix)


def language_from_fence(info: str) -> str | None:
    """The language a Markdown fence info string names (```` ```python ````), if any."""
    words = info.strip().split()
    if not words:
        return None
    word = words[0].strip("{}.").lower()
    return _BY_FENCE.get(word) or language_from_path("x." + word)
