#!/usr/bin/env python3
"""Offline consistency check of CareFlow's Terraform (terraform validate needs the providers,
which cannot be downloaded everywhere this runs).

Every directory under the given root (default: terraform/) that holds .tf files is a module.
Each .tf file must parse as HCL2, and then:

  * every `module` block's `source` is a local path ("./" or "../") to a directory with .tf files;
  * every argument passed to a module is a `variable` that module declares (besides the
    meta-arguments source, version, count, for_each, providers and depends_on);
  * every variable of the called module without a default is passed;
  * every `module.X.Y` names a module block X of the calling module and an `output` Y of X;
  * every `var.X` is a declared variable and every `local.X` a defined local of its module;
  * no variable, output, local or module is declared twice in a module;
  * a module with resources or data sources declares, in `required_providers`, each provider
    they use (the prefix of the type) with a `version` constraint;
  * a root module (one no other module calls) configures a `backend "s3"` with bucket, key,
    region, and locking (use_lockfile or dynamodb_table).

Usage:
  scripts/check_terraform.py [ROOT]     check ROOT (default terraform/); exit 1 on any error
  scripts/check_terraform.py --self-test
        check scripts/testdata/terraform-broken and require that each kind of error above is
        reported there (so a checker that silently stops checking fails CI)
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

try:
    import hcl2  # provided by bc-python-hcl2 (the python-hcl2 fork checkov uses)
except ImportError:  # pragma: no cover
    sys.exit("check_terraform.py: the hcl2 module is missing (pip install -r scripts/requirements-dev.txt)")

META_ARGS = {"source", "version", "count", "for_each", "providers", "depends_on"}
# Prefixes of resource types -> provider local names (longest first when matching).
IDENT = r"[A-Za-z_][A-Za-z0-9_-]*"
REF_VAR = re.compile(rf"(?<![\w.]){'var'}\.({IDENT})")
REF_LOCAL = re.compile(rf"(?<![\w.])local\.({IDENT})")
REF_MODULE = re.compile(rf"(?<![\w.])module\.({IDENT})(?:\[[^\]]*\])?(?:\.({IDENT}))?")


def unwrap(v):
    """bc-python-hcl2 wraps every attribute value in a one-element list."""
    if isinstance(v, list) and len(v) == 1:
        return v[0]
    return v


def strip_quotes(s):
    if isinstance(s, str) and len(s) >= 2 and s[0] == s[-1] == '"':
        return s[1:-1]
    return s


def strings(node):
    """Every string (expressions included) below node, skipping parser metadata keys."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for k, v in node.items():
            if isinstance(k, str) and k.startswith("__") and k.endswith("__"):
                continue
            if isinstance(k, str):
                yield k
            yield from strings(v)
    elif isinstance(node, list):
        for v in node:
            yield from strings(v)


def blocks(doc, kind):
    """(label, body) pairs of the labelled blocks of one kind, e.g. variable "x" {...}."""
    for entry in doc.get(kind, []) or []:
        if isinstance(entry, dict):
            for label, body in entry.items():
                if isinstance(label, str) and label.startswith("__"):
                    continue
                yield strip_quotes(label), body if isinstance(body, dict) else {}


@dataclass
class Module:
    path: Path
    files: dict = field(default_factory=dict)  # Path -> parsed document
    variables: dict = field(default_factory=dict)  # name -> has default
    outputs: set = field(default_factory=set)
    locals: set = field(default_factory=set)
    calls: dict = field(default_factory=dict)  # name -> (file, body)
    resource_types: set = field(default_factory=set)
    required_providers: dict = field(default_factory=dict)  # name -> version or None
    backends: list = field(default_factory=list)  # (type, body)


class Checker:
    def __init__(self, root: Path):
        self.root = root.resolve()
        self.errors: list[str] = []
        self.modules: dict[Path, Module] = {}

    def err(self, where, msg):
        try:
            where = Path(where).resolve().relative_to(Path.cwd())
        except ValueError:
            pass
        self.errors.append(f"{where}: {msg}")

    # ------------------------------------------------------------------ loading

    def load(self):
        dirs = sorted({p.parent for p in self.root.rglob("*.tf") if ".terraform" not in p.parts})
        for d in dirs:
            m = Module(d.resolve())
            for f in sorted(d.glob("*.tf")):
                try:
                    with f.open(encoding="utf-8") as fh:
                        m.files[f] = hcl2.load(fh)
                except Exception as e:  # lark errors carry line and column
                    self.err(f, f"does not parse as HCL2: {str(e).splitlines()[0] if str(e) else e!r}")
            self.index(m)
            self.modules[m.path] = m

    def declare(self, m, f, kind, table, name, value=True):
        if name in table:
            self.err(f, f"{kind} {name!r} is declared more than once in {m.path.name}/")
        if isinstance(table, set):
            table.add(name)
        else:
            table[name] = value

    def index(self, m: Module):
        for f, doc in m.files.items():
            for name, body in blocks(doc, "variable"):
                self.declare(m, f, "variable", m.variables, name, "default" in body)
            for name, _ in blocks(doc, "output"):
                self.declare(m, f, "output", m.outputs, name)
            for name, body in blocks(doc, "module"):
                if name in m.calls:
                    self.err(f, f"module {name!r} is declared more than once")
                m.calls[name] = (f, body)
            for entry in doc.get("locals", []) or []:
                for name in entry:
                    if not name.startswith("__"):
                        self.declare(m, f, "local", m.locals, name)
            for kind in ("resource", "data"):
                for rtype, _ in blocks(doc, kind):
                    m.resource_types.add(rtype)
            for tf in doc.get("terraform", []) or []:
                for rp in tf.get("required_providers", []) or []:
                    for pname, spec in rp.items():
                        if pname.startswith("__"):
                            continue
                        spec = unwrap(spec)
                        version = spec.get("version") if isinstance(spec, dict) else spec
                        m.required_providers[pname] = unwrap(version)
                for backend in tf.get("backend", []) or []:
                    for btype, bbody in backend.items():
                        if not btype.startswith("__"):
                            m.backends.append((strip_quotes(btype), bbody))

    # ------------------------------------------------------------------ checks

    def resolve_source(self, m, f, name, body):
        source = strip_quotes(unwrap(body.get("source")))
        if not isinstance(source, str):
            self.err(f, f"module {name!r} has no source")
            return None
        if not source.startswith(("./", "../")):
            self.err(f, f"module {name!r}: source {source!r} is not a local path (modules live in this repository)")
            return None
        target = (m.path / source).resolve()
        if target not in self.modules:
            self.err(f, f"module {name!r}: source {source!r} is not a directory with .tf files")
            return None
        return self.modules[target]

    def check(self):
        called = set()
        for m in self.modules.values():
            targets = {}
            for name, (f, body) in m.calls.items():
                target = self.resolve_source(m, f, name, body)
                targets[name] = target
                if target is None:
                    continue
                called.add(target.path)
                passed = {k for k in body if not k.startswith("__")}
                for arg in sorted(passed - META_ARGS):
                    if arg not in target.variables:
                        self.err(f, f"module {name!r} passes {arg!r}, which {target.path.name}/ does not declare as a variable")
                for var, has_default in sorted(target.variables.items()):
                    if not has_default and var not in passed:
                        self.err(f, f"module {name!r} does not pass {var!r}, a required variable of {target.path.name}/")
            for f, doc in m.files.items():
                seen = set()
                for s in strings(doc):
                    if "${" not in s and "var." not in s and "local." not in s and "module." not in s:
                        continue
                    for v in REF_VAR.findall(s):
                        if v not in m.variables and ("var", v) not in seen:
                            seen.add(("var", v))
                            self.err(f, f"var.{v} is not a declared variable of {m.path.name}/")
                    for v in REF_LOCAL.findall(s):
                        if v not in m.locals and ("local", v) not in seen:
                            seen.add(("local", v))
                            self.err(f, f"local.{v} is not defined in {m.path.name}/")
                    for mod, out in REF_MODULE.findall(s):
                        if ("module", mod, out) in seen:
                            continue
                        seen.add(("module", mod, out))
                        if mod not in m.calls:
                            self.err(f, f"module.{mod} does not name a module block of {m.path.name}/")
                        elif out and targets.get(mod) is not None and out not in targets[mod].outputs:
                            self.err(f, f"module.{mod}.{out}: {targets[mod].path.name}/ has no output {out!r}")
            self.check_providers(m)
        for m in self.modules.values():
            if m.path not in called:
                self.check_root(m)

    def check_providers(self, m: Module):
        where = m.path / "versions.tf"
        used = {t.split("_", 1)[0] for t in m.resource_types}
        for p in sorted(used):
            if p not in m.required_providers:
                self.err(where, f"resources of provider {p!r} are used but {p!r} is not in required_providers")
            elif not m.required_providers[p]:
                self.err(where, f"provider {p!r} has no version constraint in required_providers")

    def check_root(self, m: Module):
        where = m.path / "versions.tf"
        s3 = [body for btype, body in m.backends if btype == "s3"]
        if not s3:
            self.err(where, 'root module has no backend "s3" block (remote state)')
            return
        body = s3[0]
        for key in ("bucket", "key", "region"):
            if key not in body:
                self.err(where, f'backend "s3" does not set {key}')
        if unwrap(body.get("use_lockfile")) is not True and "dynamodb_table" not in body:
            self.err(where, 'backend "s3" has no state locking (use_lockfile = true or dynamodb_table)')

    def run(self):
        if not self.root.is_dir():
            self.err(self.root, "not a directory")
            return self.errors
        self.load()
        if not self.modules:
            self.err(self.root, "no .tf files found")
        self.check()
        return self.errors


# Each kind of error the broken fixture must produce (a substring of the message).
EXPECTED_IN_FIXTURE = [
    "does not parse as HCL2",
    "is not a directory with .tf files",
    "which child/ does not declare as a variable",
    "does not pass 'required_name'",
    "child/ has no output 'missing_output'",
    "module.ghost does not name a module block",
    "var.undeclared is not a declared variable",
    "local.nowhere is not defined",
    "variable 'name' is declared more than once",
    "'aws' is not in required_providers",
    "provider 'random' has no version constraint",
    "has no state locking",
]


def self_test(here: Path) -> int:
    fixture = here / "testdata" / "terraform-broken"
    errors = Checker(fixture).run()
    missing = [e for e in EXPECTED_IN_FIXTURE if not any(e in msg for msg in errors)]
    if missing:
        print("check_terraform.py self-test FAILED: the broken fixture did not report:", file=sys.stderr)
        for e in missing:
            print(f"  - {e}", file=sys.stderr)
        print("reported:", *errors, sep="\n  ", file=sys.stderr)
        return 1
    ok = Checker(fixture / "good").run()
    if ok:
        print("check_terraform.py self-test FAILED: the consistent fixture reported errors:", *ok, sep="\n  ", file=sys.stderr)
        return 1
    print(f"check_terraform.py self-test ok: the broken fixture reported all {len(EXPECTED_IN_FIXTURE)} "
          f"kinds of error, the consistent fixture none")
    return 0


def main() -> int:
    here = Path(__file__).resolve().parent
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("root", nargs="?", default=str(here.parent / "terraform"))
    ap.add_argument("--self-test", action="store_true", help="run against the broken fixture")
    args = ap.parse_args()
    if args.self_test:
        return self_test(here)
    checker = Checker(Path(args.root))
    errors = checker.run()
    for e in errors:
        print(f"error: {e}", file=sys.stderr)
    if errors:
        print(f"check_terraform.py: {len(errors)} error(s) in {len(checker.modules)} modules", file=sys.stderr)
        return 1
    print(f"check_terraform.py: {len(checker.modules)} modules consistent "
          f"({sum(len(m.calls) for m in checker.modules.values())} module calls checked)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
