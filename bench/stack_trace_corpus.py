"""Write real stack traces from the runtimes on this machine to tests/data/stack_traces/.

    .venv/bin/python -m bench.stack_trace_corpus

Each trace is what the runtime itself printed for a real error (Python, Java, Node.js, Rust);
the files are committed so the tests need none of these runtimes. Go, C#, Ruby and PHP have no
runtime here; their traces are the ``handwritten-*.txt`` files, written from each runtime's documented
format and marked as such.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "tests" / "data" / "stack_traces"

# Real failures of standard-library calls: each gives a different depth and shape of trace.
PYTHON_FAILURES = [
    "import json; json.loads('{\"a\": [1, 2,, 3]}')",
    "import json; json.load(open('/etc/hostname'))",
    "import datetime; datetime.datetime.strptime('2026-13-01', '%Y-%m-%d')",
    "import re; re.compile('(unclosed')",
    "import csv, io; list(csv.reader(io.StringIO('a,\"b\\n'), strict=True))",
    "import decimal; decimal.Decimal('1.2.3')",
    "import urllib.request; urllib.request.urlopen('file:///no/such/file')",
    "import sqlite3; sqlite3.connect(':memory:').execute('select * from missing')",
    "import argparse; p = argparse.ArgumentParser(exit_on_error=False); p.add_argument('--n', type=int); p.parse_args(['--n', 'x'])",
    "import tomllib; tomllib.loads('a = ')",
    "import ipaddress; ipaddress.ip_address('300.1.1.1')",
    "import base64; base64.b64decode('abc', validate=True)",
    "import configparser; c = configparser.ConfigParser(); c.read_string('[s]\\na=1\\na=2')",
    "import zipfile, io; zipfile.ZipFile(io.BytesIO(b'not a zip'))",
    "import pathlib; pathlib.Path('/no/such/dir/x.txt').write_text('x')",
    "import xml.etree.ElementTree as ET; ET.fromstring('<a><b></a>')",
    "import collections\ndef load(d, k):\n    return d[k]\ndef main():\n    return load(collections.OrderedDict(a=1), 'b')\nmain()",
    "class Repo:\n    def get(self, i):\n        return self.items[i]\ndef handler():\n    try:\n        Repo().get(3)\n    except AttributeError as e:\n        raise RuntimeError('lookup failed') from e\nhandler()",
    "def parse(v):\n    return int(v)\ndef run(vs):\n    try:\n        return [parse(v) for v in vs]\n    except ValueError:\n        return 1 / 0\nrun(['1', 'x'])",
]

JAVA = """
import java.util.*;
public class Fail {
  static int parse(String s) { return Integer.parseInt(s); }
  static int total(List<String> xs) { int t = 0; for (String x : xs) t += parse(x); return t; }
  static Map<String, Integer> index(List<String> xs) { Map<String, Integer> m = new HashMap<>(); for (String x : xs) m.put(x, m.get(x) + 1); return m; }
  public static void main(String[] args) {
    switch (args[0]) {
      case "wrap": try { total(Arrays.asList("1", "x2")); } catch (RuntimeException e) { throw new IllegalStateException("config failed", e); }
      case "npe": index(Arrays.asList("a", "b")); break;
      case "bounds": List<Integer> l = new ArrayList<>(); l.get(4); break;
      case "iter": List<String> c = new ArrayList<>(List.of("a", "b")); for (String s : c) c.remove(s); break;
      case "cast": Object o = "s"; Integer i = (Integer) o; break;
      case "stream": List.of("1", "2", "z").stream().map(Integer::valueOf).reduce(0, Integer::sum); break;
      case "deep": total(Collections.nCopies(3, "")); break;
    }
  }
}
"""
JAVA_CASES = ["wrap", "npe", "bounds", "iter", "cast", "stream", "deep"]

NODE_FAILURES = [
    "function a(x){return x.y.z} function b(){return a({})} b()",
    "JSON.parse('{bad')",
    "require('fs').readFileSync('/no/such/file')",
    "new URL('not a url')",
    "[1,2].map(function (v) { return v.toFixed(-1) })",
    "class Store { get(k) { return this.map.get(k) } } new Store().get('a')",
    "Promise.reject(new Error('upstream timed out')).catch(e => { throw new Error('request failed', { cause: e }) })",
    "require('assert').deepStrictEqual({a: 1}, {a: 2})",
]

RUST = """
fn parse(v: &str) -> u32 { v.parse().expect("not a number") }
fn total(vs: &[&str]) -> u32 { vs.iter().map(|v| parse(v)).sum() }
fn main() {
    let which = std::env::args().nth(1).unwrap_or_default();
    if which == "index" { let v: Vec<u8> = Vec::new(); println!("{}", v[3]); }
    println!("{}", total(&["1", "x"]));
}
"""


def run(command: list[str], cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    return result.stderr.strip() or result.stdout.strip()


def write(name: str, text: str, tmp: Path) -> None:
    # The temporary directory's random name would change the files on every run.
    (OUT / f"{name}.txt").write_text(text.replace(str(tmp), "/srv/app").rstrip() + "\n")


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        for n, code in enumerate(PYTHON_FAILURES, 1):
            script = tmp / "job.py"
            script.write_text(code + "\n")
            write(f"python-{n:02d}", run([sys.executable, str(script)], cwd=tmp), tmp)
        if shutil.which("javac"):
            (tmp / "Fail.java").write_text(JAVA)
            run(["javac", "Fail.java"], cwd=tmp)
            for n, case in enumerate(JAVA_CASES, 1):
                write(f"java-{n:02d}", run(["java", "-cp", str(tmp), "Fail", case], cwd=tmp), tmp)
        if shutil.which("node"):
            for n, code in enumerate(NODE_FAILURES, 1):
                (tmp / "job.js").write_text(code + "\n")
                write(f"node-{n:02d}", run(["node", str(tmp / "job.js")], cwd=tmp), tmp)
        if shutil.which("rustc"):
            (tmp / "fail.rs").write_text(RUST)
            run(["rustc", "-g", "-o", str(tmp / "fail"), "fail.rs"], cwd=tmp)
            env = {**os.environ, "RUST_BACKTRACE": "1"}
            write("rust-01", run([str(tmp / "fail")], cwd=tmp, env=env), tmp)
            write("rust-02", run([str(tmp / "fail"), "index"], cwd=tmp, env=env), tmp)
    print(f"wrote {len(list(OUT.glob('*.txt')))} files to {OUT}")


if __name__ == "__main__":
    main()
