"""Labelled code for training and measuring the language identifier, all of it from Debian or this machine.

Nothing here is fetched from code hosts. The material is what a Debian machine with this
project's venv carries: the Python standard library and site-packages, ``/usr/include``,
``/usr/share`` (docs, examples, PostgreSQL's SQL), ``/usr/lib`` (npm, the Cloud SDK's PHP, YAML
and shell scripts), Debian packages in the apt cache (read in place with ``dpkg-deb``, e.g. the Go
sources of ``golang-1.19-src``), and snippets written for this project in
``bench/data/code_samples/`` for languages Debian ships little or no source of (Kotlin, Swift,
Scala, C#) or one style only.

Debian packages that are not installed here were put into the apt cache with ``apt-get download``
(run in ``/var/cache/apt/archives``; Debian 12 "bookworm" versions)::

    apt-get download openjdk-17-source rust-src libruby3.1 node-typescript ts-node \
        node-gulp-tsb node-mj-context-menu node-rollup-plugin-typescript2 rollup webpack eslint \
        node-babel7 node-lodash node-express node-acorn nrefactory-samples gtk-sharp3-examples \
        golang-github-hashicorp-hcl-dev golang-github-hashicorp-hcl-v2-dev \
        golang-github-hashicorp-terraform-json-dev uima-examples ruby-rack ruby-sinatra ruby-thor \
        ruby-rspec-core ruby-i18n ruby-mustermann librust-serde-dev librust-regex-dev \
        librust-clap-dev librust-tokio-dev librust-rand-dev librust-anyhow-dev dracut-core \
        neofetch shunit2 roundcube-core icinga2-ido-mysql icinga2-ido-pgsql php-monolog \
        php-symfony-console php-guzzlehttp-psr7 php-psr-log ansible netplan.io monodoc-manual \
        python3.11-doc python3-django sphinx-common sphinx-rtd-theme-common libcurl4-doc

The split is by source, never by file: every language is measured on directories, packages or
snippets that training never saw ("test"), and model choices (features, sizes) are made on a third
set of packages ("dev", trained on only for the final model). A source missing on a machine is
skipped, so numbers are comparable only between machines with the same packages.
"""

from __future__ import annotations

import html
import io
import random
import re
import subprocess
import sysconfig
import tarfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from detectors.code.language_model import NOT_CODE
from detectors.code.languages import LANGUAGES

EXTENSIONS = {lang.id: lang.extensions for lang in LANGUAGES}
EXTENSIONS["c"] = (".c",)  # a bare .h may be C or C++; only trusted directories say which
PROSE_EXTENSIONS = (".md", ".rst", ".txt")
APT_CACHE = Path("/var/cache/apt/archives")
SAMPLES = Path(__file__).resolve().parent / "data" / "code_samples"
STDLIB = sysconfig.get_paths()["stdlib"]
SITE = sysconfig.get_paths()["purelib"]
PYTHON_INCLUDE = sysconfig.get_paths()["include"]


@dataclass(frozen=True)
class Source:
    """One place labelled files come from. Exactly one of directory / deb / samples is set."""

    language: str
    split: str  # "train", "dev" (model choices; trained on at the end) or "test" (measuring only)
    directory: str = ""  # a local directory ...
    deb: str = ""  # ... or a package in the apt cache (name prefix of the .deb file) ...
    samples: str = ""  # ... or "train"/"held_out" snippets of bench/data/code_samples
    under: str = ""  # only files below this path (inside the directory or package)
    exclude: tuple[str, ...] = ()  # path fragments to leave out
    extensions: tuple[str, ...] = ()  # overrides the language's extensions; "" = no extension
    max_files: int = 400
    first_line: str = ""  # only files whose first line starts with this (a shebang)
    fences: tuple[str, ...] = ()  # take only Markdown fenced blocks with these info strings
    inner_zip: str = ""  # read the members of this zip archive inside the package instead
    xml_code: str = ""  # take only the HTML-escaped code of these XML elements (a regex, code in group 1)
    final: bool = True  # a dev source the final model also trains on (False: only ever measured)


def _samples(language: str) -> tuple[Source, Source]:
    return Source(language, "train", samples="train"), Source(language, "test", samples="held_out")


SOURCES: tuple[Source, ...] = (
    Source("python", "train", directory=STDLIB, exclude=("/test/", "site-packages"), max_files=600),
    Source("python", "train", directory=SITE, under="tornado"),
    Source("python", "train", directory=SITE, under="requests"),
    Source("python", "train", directory=SITE, under="urllib3"),
    # Debian's Python packages widen the style beyond the standard library (data tables, long
    # argument lists, CamelCase class names); none of them is a dev or test source.
    Source("python", "train", deb="python3-sympy_", exclude=("/tests/",), max_files=300),
    Source("python", "train", deb="python3-networkx_", exclude=("/tests/",), max_files=200),
    Source("python", "train", deb="python3-scapy_", max_files=200),
    Source("python", "train", deb="python3-matplotlib_", exclude=("/tests/",), max_files=150),
    Source("python", "train", deb="python3-hypothesis_", max_files=100),
    Source("python", "train", directory="/usr/lib/python3/dist-packages", under="pygments", max_files=200),
    Source("python", "dev", directory=SITE, under="httpx"),
    Source("python", "dev", directory=SITE, under="jinja2"),
    Source("python", "dev", directory=SITE, under="attr"),
    Source("python", "dev", directory=SITE, under="pydantic", max_files=100),
    Source("python", "dev", directory=SITE, under="structlog"),
    Source("python", "dev", directory=SITE, under="huggingface_hub", max_files=80),
    Source("python", "dev", directory=SITE, under="markdown_it"),
    Source("python", "test", directory=SITE, under="rich"),
    Source("python", "test", directory=SITE, under="werkzeug"),
    Source("python", "test", directory=SITE, under="click"),
    Source("javascript", "train", directory="/usr/lib/node_modules/npm", under="lib", max_files=600),
    Source("javascript", "train", directory="/usr/lib/node_modules/npm", under="node_modules", max_files=600),
    Source("javascript", "train", deb="node-babel7_", exclude=("/test/", ".min."), max_files=600),
    Source("javascript", "train", deb="webpack_", exclude=("/test/", ".min."), max_files=400),
    Source("javascript", "train", deb="eslint_", exclude=("/test/", ".min."), max_files=300),
    Source("javascript", "dev", deb="node-express_"),
    Source("javascript", "dev", deb="node-acorn_"),
    Source("javascript", "dev", deb="libjs-moment_", exclude=(".min.",)),
    Source("javascript", "test", directory="/usr/share/doc/nodejs/api", extensions=(".md",),
           fences=("js", "mjs", "cjs", "javascript")),
    Source("javascript", "test", deb="libjs-jquery-ui_", exclude=(".min.",)),
    Source("javascript", "test", deb="rollup_", exclude=(".min.",)),
    *_samples("typescript"),
    Source("typescript", "train", deb="node-typescript_", extensions=(".ts",)),
    Source("typescript", "train", deb="node-lodash_", extensions=(".ts",), max_files=200),
    Source("typescript", "train", deb="webpack_", extensions=(".ts",)),
    Source("typescript", "train", deb="ts-node_", extensions=(".ts",)),
    Source("typescript", "train", deb="node-yargs_", extensions=(".ts",)),
    Source("typescript", "train", deb="node-sinclair-typebox_", extensions=(".ts",)),
    Source("typescript", "train", deb="node-commander_", extensions=(".ts",)),
    Source("typescript", "train", deb="node-debug_", extensions=(".ts",)),
    Source("typescript", "dev", deb="node-gulp-tsb_", extensions=(".ts",)),
    Source("typescript", "test", deb="libjs-popper.js_", extensions=(".d.ts",)),
    Source("typescript", "test", deb="rollup_", extensions=(".ts",)),
    Source("typescript", "test", deb="node-mj-context-menu_", extensions=(".ts",)),
    Source("typescript", "test", deb="node-rollup-plugin-typescript2_", extensions=(".ts",)),
    *_samples("java"),
    Source("java", "train", deb="openjdk-17-source_", inner_zip="src.zip", max_files=1500),
    Source("java", "test", deb="protobuf-compiler_"),
    Source("java", "test", deb="opencv-doc_"),
    Source("java", "test", deb="uima-examples_"),
    Source("go", "train", deb="golang-1.19-src_", under="./usr/share/go-1.19/src/", exclude=("/src/cmd/",)),
    Source("go", "test", deb="golang-1.19-src_", under="./usr/share/go-1.19/src/cmd/"),
    Source("go", "test", deb="prometheus_"),
    *_samples("rust"),
    Source("rust", "train", deb="rust-src_", exclude=("/test/", "/tests/"), max_files=1000),
    Source("rust", "dev", deb="librust-anyhow-dev_"),
    Source("rust", "test", deb="librust-serde-dev_"),
    Source("rust", "test", deb="librust-regex-dev_"),
    Source("rust", "test", deb="librust-clap-dev_"),
    Source("rust", "test", deb="librust-tokio-dev_", max_files=150),
    Source("rust", "test", deb="librust-rand-dev_"),
    Source("c", "train", directory="/usr/include", extensions=(".h",), exclude=("c++", "eigen", "boost"), max_files=300),
    Source("c", "train", directory=PYTHON_INCLUDE, extensions=(".h",), max_files=100),
    Source("c", "train", deb="golang-1.19-src_"),
    Source("c", "train", deb="python3-numpy_"),
    Source("c", "train", deb="libpmix-dev_"),
    Source("c", "train", deb="libevent-dev_"),
    Source("c", "train", deb="libzstd-dev_"),
    # whole example programs (``main``, error handling, cleanup), not only headers' declarations
    Source("c", "train", deb="libcurl4-doc_"),
    Source("c", "dev", deb="cmake-data_"),
    Source("c", "dev", deb="gcc-arm-none-eabi_"),
    Source("c", "test", directory="/usr/share/doc"),
    Source("c", "test", deb="glpk-utils_"),
    Source("c", "test", deb="bison_"),
    Source("c", "test", deb="libltdl-dev_"),
    Source("cpp", "train", directory="/usr/include/c++", extensions=(".h", ".hpp", ".tcc", ""), max_files=400),
    Source("cpp", "train", deb="googletest_", extensions=(".cc", ".h")),
    Source("cpp", "train", deb="r-cran-rcpp_", extensions=(".cpp", ".h")),
    Source("cpp", "train", deb="libgeographiclib-dev_", extensions=(".cpp", ".hpp")),
    Source("cpp", "train", deb="libboost1.74-dev_", extensions=(".hpp",), max_files=600),
    Source("cpp", "train", deb="libfmt-dev_", extensions=(".h",)),
    Source("cpp", "train", deb="libtbb-dev_", extensions=(".h",), max_files=150),
    Source("cpp", "train", deb="libgmock-dev_", extensions=(".h",)),
    Source("cpp", "train", deb="libprotobuf-dev_", extensions=(".h",)),
    Source("cpp", "train", deb="libmuparser-dev_", extensions=(".h",)),
    Source("cpp", "train", deb="liblemon-dev_", extensions=(".h",)),
    Source("cpp", "train", deb="opencl-clhpp-headers_", extensions=(".hpp",)),
    Source("cpp", "train", deb="libclang-14-dev_", extensions=(".h",), exclude=("/clang-c/",), max_files=300),
    Source("cpp", "dev", deb="coinor-libcoinutils-dev_", extensions=(".hpp",)),
    Source("cpp", "dev", deb="verilator_", extensions=(".cpp",)),
    Source("cpp", "dev", deb="libxsimd-dev_", extensions=(".hpp",)),
    Source("cpp", "dev", deb="r-cran-rcpparmadillo_", extensions=(".hpp",), max_files=150),
    Source("cpp", "test", deb="libeigen3-dev_", extensions=(".h",)),
    Source("cpp", "test", deb="libcxxopts-dev_", extensions=(".hpp",)),
    Source("cpp", "test", deb="opencv-doc_", extensions=(".cpp", ".hpp")),
    *_samples("csharp"),
    Source("csharp", "train", deb="nrefactory-samples_"),
    # Mono's documentation: every C# compiler error comes with the small programs that raise it
    # (train); the .NET class reference quotes C# examples (dev).
    Source("csharp", "train", deb="monodoc-manual_", inner_zip="cs-errors.zip", extensions=("",),
           xml_code=r"(?s)<string>(.*?)</string>", max_files=1000),
    Source("csharp", "dev", deb="monodoc-manual_", inner_zip="netdocs.zip", extensions=("",),
           xml_code=r'(?si)<code lang="C#">(.*?)</code>', max_files=8000),
    # gtk-sharp2-examples holds the same programs as gtk-sharp3-examples (47 of 50 file names),
    # so neither is trained on: the GTK# 3 examples are C# that training never saw.
    Source("csharp", "test", deb="gtk-sharp3-examples_"),
    *_samples("kotlin"),
    *_samples("swift"),
    *_samples("ruby"),
    Source("ruby", "train", deb="libruby3.1_", extensions=(".rb",), max_files=800),
    Source("ruby", "dev", deb="ruby-thor_"),
    Source("ruby", "dev", deb="ruby-i18n_"),
    Source("ruby", "test", deb="redis-tools_"),
    Source("ruby", "test", deb="ruby-rack_"),
    Source("ruby", "test", deb="ruby-sinatra_"),
    Source("ruby", "test", deb="ruby-rspec-core_"),
    Source("ruby", "test", deb="ruby-mustermann_"),
    Source("php", "train", directory="/usr/lib/google-cloud-sdk/platform/google_appengine/php/sdk/google"),
    *_samples("php"),
    Source("php", "train", deb="roundcube-core_", extensions=(".php", ".inc"), max_files=300),
    Source("php", "train", deb="php-monolog_"),
    Source("php", "train", deb="php-symfony-console_"),
    Source("php", "dev", deb="php-guzzlehttp-psr7_"),
    Source("php", "dev", deb="php-psr-log_"),
    Source("php", "test", directory="/usr/lib/google-cloud-sdk/platform/google_appengine/php/sdk/third_party"),
    *_samples("scala"),
    Source("shell", "train", directory="/usr/bin", extensions=("",), first_line="#!/bin/"),
    Source("shell", "train", directory="/usr/lib/perf-core/tests/shell"),
    Source("shell", "train", directory="/usr/share/bash-completion/completions", extensions=("",), max_files=200),
    Source("shell", "train", deb="initramfs-tools-core_", extensions=("", ".sh"), first_line="#!"),
    Source("shell", "train", directory="/usr/sbin", extensions=("",), first_line="#!/bin/"),
    Source("shell", "train", directory="/etc/init.d", extensions=("",), first_line="#!/bin/"),
    Source("shell", "train", deb="dracut-core_", max_files=200),
    Source("shell", "train", deb="neofetch_", extensions=("",)),
    Source("shell", "train", deb="libtool_", extensions=(".sh", ".guess", ".sub")),
    Source("shell", "dev", deb="texlive-base_", extensions=(".sh",)),
    Source("shell", "dev", deb="shunit2_"),
    Source("shell", "test", directory="/usr/share/doc/git/contrib", extensions=(".sh", ".bash")),
    Source("shell", "test", directory="/usr/lib/google-cloud-sdk", extensions=(".sh",)),
    Source("shell", "test", deb="bowtie2-examples_"),
    Source("shell", "test", deb="socat_"),
    *_samples("sql"),
    Source("sql", "train", directory="/usr/share/postgresql"),
    Source("sql", "train", deb="icinga2-ido-pgsql_"),
    Source("sql", "train", deb="icinga2-ido-mysql_"),
    Source("sql", "test", deb="mariadb-server-core_"),
    Source("sql", "test", deb="glpk-utils_"),
    Source("html", "train", directory="/usr/share/doc", exclude=("/nodejs/",), max_files=300),
    # Template languages (Django's, Jinja's) wrap HTML in ``{% if %}`` / ``{% endfor %}``; with
    # generated documentation pages only, the model took those templates for Ruby (``end``).
    Source("html", "train", deb="python3-django_", extensions=(".html",), max_files=300),
    Source("html", "dev", deb="sphinx-common_", extensions=(".html",)),
    Source("html", "dev", deb="sphinx-rtd-theme-common_", extensions=(".html",)),
    Source("html", "test", directory="/usr/lib/node_modules/npm/docs"),
    Source("html", "test", directory="/usr/lib/google-cloud-sdk/platform"),
    Source("css", "train", directory="/usr/lib/google-cloud-sdk"),
    Source("css", "train", directory="/usr/share/doc"),
    Source("css", "train", deb="libjs-highlight.js_"),
    Source("css", "test", deb="libjs-jquery-ui_", exclude=(".min.",)),
    Source("css", "test", deb="r-cran-knitr_"),
    Source("css", "test", directory=SITE),
    Source("yaml", "train", directory="/usr/lib/google-cloud-sdk/lib/surface", max_files=300),
    Source("yaml", "train", deb="ansible_", extensions=(".yml", ".yaml"), exclude=("/changelogs/",), max_files=400),
    Source("yaml", "dev", deb="netplan.io_", extensions=(".yml", ".yaml")),
    Source("yaml", "test", directory="/usr/lib/google-cloud-sdk/platform"),
    Source("yaml", "test", directory="/usr/lib/google-cloud-sdk/lib/googlecloudsdk", max_files=200),
    *_samples("hcl"),
    Source("hcl", "train", deb="golang-github-hashicorp-hcl-dev_", extensions=(".hcl",)),
    Source("hcl", "train", deb="golang-github-hashicorp-hcl-v2-dev_", extensions=(".hcl",)),
    Source("hcl", "test", deb="golang-github-hashicorp-terraform-json-dev_", extensions=(".tf", ".tfvars")),
    # Not code: licences, prose documentation (code fences removed), logs.
    Source(NOT_CODE, "train", directory="/usr/share/common-licenses", extensions=("", ".0", ".1", ".2", ".3")),
    Source(NOT_CODE, "train", directory="/usr/share/doc", extensions=("",), exclude=("/examples/", "/contrib/", "/nodejs/", "/python3-pip/"),
           max_files=300),
    Source(NOT_CODE, "train", directory="/var/log", extensions=(".log",)),
    Source(NOT_CODE, "train", directory="/usr/share/doc", extensions=(".md",), exclude=("/nodejs/", "/python3-pip/")),
    Source(NOT_CODE, "train", directory=SITE, extensions=(".md", ".rst", ".txt"), max_files=300),
    # Markdown documentation of the Rust sources (books, references, READMEs; fences removed)
    Source(NOT_CODE, "train", deb="rust-src_", extensions=(".md",), max_files=300),
    # git's release notes: bullet lists of prose, where Markdown/AsciiDoc markers look like comments
    Source(NOT_CODE, "dev", directory="/usr/share/doc/git/RelNotes", extensions=(".txt",), max_files=150),
    # Markdown documentation (headings, bullet lists, tables; code fences removed)
    Source(NOT_CODE, "dev", deb="node-babel7_", extensions=(".md",), max_files=100),
    Source(NOT_CODE, "dev", deb="node-yargs_", extensions=(".md",)),
    Source(NOT_CODE, "dev", deb="webpack_", extensions=(".md",)),
    # reStructuredText reference documentation (directives, roles, indented examples): Python's own
    # (measured only: its indented examples are Python, which the final model must not learn as prose)
    Source(NOT_CODE, "dev", deb="python3.11-doc_", under="./usr/share/doc/python3.11/html/_sources/", extensions=(".txt",),
           max_files=150, final=False),
    Source(NOT_CODE, "test", directory="/usr/share/doc/nodejs", extensions=(".md",)),
    Source(NOT_CODE, "test", directory="/usr/share/doc/python3-pip", extensions=(".md", ".rst")),
)


@dataclass(frozen=True)
class SourceFile:
    source: Source
    path: str
    text: str


def _wanted(source: Source, path: str) -> bool:
    """Whether a file at ``path`` (relative to the directory or package) belongs to the source."""
    extensions = source.extensions or EXTENSIONS.get(source.language, ())
    if not path.startswith(source.under) or any(part in "/" + path for part in source.exclude):
        return False
    name = path.rsplit("/", 1)[-1]
    if "" in extensions and "." not in name:
        return True
    return any(name.endswith(ext) for ext in extensions if ext)


def _local_files(source: Source) -> Iterator[tuple[str, str]]:
    root = Path(source.directory)
    if not root.is_dir():
        return
    chosen = sorted(str(p) for p in root.rglob("*") if p.is_file() and _wanted(source, p.relative_to(root).as_posix()))
    random.Random(source.directory + source.under + source.language).shuffle(chosen)
    for path in chosen[: source.max_files]:
        try:
            yield path, Path(path).read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue


def _deb_files(source: Source) -> Iterator[tuple[str, str]]:
    packages = sorted(APT_CACHE.glob(source.deb + "*.deb"))
    if not packages:
        return
    found = []
    command = ["dpkg-deb", "--fsys-tarfile", str(packages[0])]
    with subprocess.Popen(command, stdout=subprocess.PIPE) as proc, tarfile.open(fileobj=proc.stdout, mode="r|") as archive:
        for member in archive:
            if not member.isfile():
                continue
            if source.inner_zip:
                if member.name.endswith("/" + source.inner_zip) and (handle := archive.extractfile(member)):
                    found.extend(_zip_members(source, handle.read()))
            elif _wanted(source, member.name) and (handle := archive.extractfile(member)):
                found.append((member.name, handle.read().decode("utf-8", errors="replace")))
    random.Random(source.deb + source.language).shuffle(found)
    yield from found[: source.max_files]


def _zip_members(source: Source, data: bytes) -> list[tuple[str, str]]:
    """The wanted files of a zip archive shipped inside a package (the JDK ships its sources so)."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return [
            (name, archive.read(name).decode("utf-8", errors="replace"))
            for name in archive.namelist()
            if _wanted(source, name)
        ]


def _sample_snippets(source: Source) -> Iterator[tuple[str, str]]:
    path = SAMPLES / source.samples / f"{source.language}.txt"
    if not path.exists():
        return
    for number, snippet in enumerate(re.split(r"(?m)^---$\n?", path.read_text(encoding="utf-8"))):
        if snippet.strip():
            yield f"{path}#{number}", snippet


def _fenced_blocks(text: str, names: tuple[str, ...]) -> Iterator[str]:
    for match in re.finditer(r"(?ms)^ {0,3}(```|~~~) *([\w+#-]*)[^\n]*\n(.*?)^ {0,3}\1", text):
        if match.group(2).lower() in names:
            yield match.group(3)


def _xml_blocks(text: str, element: str) -> Iterator[str]:
    for match in re.finditer(element, text):
        yield html.unescape(match.group(1))


def files(split: str) -> Iterator[SourceFile]:
    """Every file (or snippet) of every source of one split that is present on this machine."""
    for source in SOURCES:
        if source.split != split:
            continue
        if source.samples:
            reader = _sample_snippets(source)
        elif source.deb:
            reader = _deb_files(source)
        else:
            reader = _local_files(source)
        for path, text in reader:
            if source.first_line and not text.startswith(source.first_line):
                continue
            if len(text) > 4_000_000 or "\x00" in text[:2000] or (_minified(text) and not source.xml_code):
                continue
            if source.language == "c" and _is_cpp_header(path, text):
                continue
            if source.language == "html":
                text = without_embedded_code(text)
            if source.fences or source.xml_code:
                blocks = _fenced_blocks(text, source.fences) if source.fences else _xml_blocks(text, source.xml_code)
                for number, block in enumerate(blocks):
                    yield SourceFile(source, f"{path}#{number}", block)
            else:
                yield SourceFile(source, path, text)


# A bare .h may be C or C++ (LLVM's and V8's headers sit in /usr/include beside libc's); one that
# declares classes, templates or namespaces outside an ``#ifdef __cplusplus`` guard is not C.
_CPLUSPLUS_GUARD = re.compile(r"(?s)#\s*if(?:def)?\s+(?:defined\s*\(?\s*)?__cplusplus.*?#\s*endif")
_CPP_MARKERS = re.compile(
    r"^\s*(?:template\s*<|namespace\s+\w+\s*\{|class\s+\w+[^;]*\{|public:|private:|virtual\s)|\bstd::", re.MULTILINE
)


def _is_cpp_header(path: str, text: str) -> bool:
    return path.endswith(".h") and bool(_CPP_MARKERS.search(_CPLUSPLUS_GUARD.sub("", text)))


def _minified(text: str) -> bool:
    return len(text) / (text.count("\n") + 1) > 300


def without_embedded_code(text: str) -> str:
    """An HTML page's ``<style>`` and ``<script>`` bodies are CSS and JavaScript, not HTML: a
    window cut from them would carry the wrong label (in training and in measuring alike)."""
    return re.sub(r"(?is)(<(style|script)\b[^>]*>).*?(</\2\s*>)", r"\1\3", text)


def without_fenced_code(text: str) -> str:
    """Prose documents quote code in fences; that code is not prose."""
    return re.sub(r"^ {0,3}(```|~~~).*?^ {0,3}\1[^\n]*$", "", text, flags=re.MULTILINE | re.DOTALL)


def snippets(text: str, lines: int, rng: random.Random, limit: int) -> list[str]:
    """Up to ``limit`` windows of ``lines`` consecutive lines, at least half of them non-blank."""
    all_lines = text.splitlines()
    if len(all_lines) < lines:
        return ["\n".join(all_lines)] if sum(1 for line in all_lines if line.strip()) >= max(2, lines // 2) else []
    starts = list(range(len(all_lines) - lines + 1))
    rng.shuffle(starts)
    result = []
    for start in starts:
        window = all_lines[start : start + lines]
        if sum(1 for line in window if line.strip()) >= max(2, lines // 2):
            result.append("\n".join(window))
            if len(result) >= limit:
                break
    return result


def renamed_variants(snippets_of_language: list[str], count: int, rng: random.Random) -> list[str]:
    """``count`` copies of hand-written snippets with their own names replaced by random ones.

    A word used in several snippets of a language is taken for a keyword or library name and
    kept; a word used in one snippet only is that snippet's identifier and is renamed, so a model
    trained on few hand-written snippets learns the language, not the author's variable names.
    """
    usage: dict[str, int] = {}
    for snippet in snippets_of_language:
        for word in set(re.findall(r"[A-Za-z_]\w*", snippet)):
            usage[word] = usage.get(word, 0) + 1
    keep = {word for word, n in usage.items() if n >= 3}
    syllables = ["ka", "lo", "mer", "tin", "sa", "ve", "ro", "pu", "den", "qi", "zor", "al", "ba", "nex"]
    variants = []
    for _ in range(count):
        snippet = rng.choice(snippets_of_language)
        names: dict[str, str] = {}

        def rename(match: re.Match, names: dict[str, str] = names) -> str:
            word = match.group()
            if word in keep or len(word) < 2:
                return word
            if word not in names:
                fresh = "".join(rng.choice(syllables) for _ in range(rng.randint(1, 3)))
                if word[0].isupper():
                    fresh = fresh.capitalize()
                elif "_" in word and rng.random() < 0.5:
                    fresh = fresh + "_" + rng.choice(syllables)
                names[word] = fresh
            return names[word]

        variants.append(re.sub(r"(?<![\"'$\\])\b[A-Za-z_]\w*\b", rename, snippet))
    return variants
