"""The static front links up: no browser needed, so a typo in an import cannot ship.

web/ is buildless (plain ES modules served as files). A wrong path or a misspelt named import only
shows up in the browser as a blank page, so these checks read the sources: every relative import
resolves to a file in web/, every named import is exported by its module, every page module keeps
the page contract, index.html loads files that exist, nothing comes from a CDN, and vendored code
carries its licence.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from functools import cache
from pathlib import Path

import pytest

WEB = Path(__file__).resolve().parents[2] / "web"
VENDOR = WEB / "vendor"

# import x from "./a.js"; import {a, b as c} from "./a.js"; import * as ns from "./a.js"; export {a} from "./a.js"
STATIC_IMPORT = re.compile(r"""^[ \t]*(import|export)\s+([^;"'`]*?)\s*from\s*["']([^"']+)["']""", re.MULTILINE)
# import "./side-effect.js"
BARE_IMPORT = re.compile(r"""^[ \t]*import\s*["']([^"']+)["']""", re.MULTILINE)
# import("./lazy.js")
DYNAMIC_IMPORT = re.compile(r"""\bimport\(\s*["']([^"']+)["']\s*\)""")

# "..." and '...' literals (their text is not code: "../session.js" is no use of `session`)
QUOTED = re.compile(r""""(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'""")

EXPORT_DECLARATION = re.compile(
    r"^[ \t]*export\s+(?:async\s+)?(?:function\s*\*?|const|let|var|class)\s+([A-Za-z_$][\w$]*)", re.MULTILINE
)
EXPORT_LIST = re.compile(r"^[ \t]*export\s*\{([^}]*)\}\s*(?:from\s*[\"']([^\"']+)[\"'])?", re.MULTILINE)
EXPORT_STAR = re.compile(r"""^[ \t]*export\s*\*\s*from\s*["']([^"']+)["']""", re.MULTILINE)
EXPORT_DEFAULT = re.compile(r"^[ \t]*export\s+default\b", re.MULTILINE)


def modules() -> list[Path]:
    return sorted(p for p in WEB.rglob("*.js") if VENDOR not in p.parents)


def rel(path: Path) -> str:
    return path.relative_to(WEB).as_posix()


def strip_comments(source: str) -> str:
    """Drop /* block */ and whole-line // comments, so commented-out examples are not checked."""
    source = re.sub(r"/\*.*?\*/", "", source, flags=re.DOTALL)
    return re.sub(r"^[ \t]*//.*$", "", source, flags=re.MULTILINE)


@cache
def source_of(path: Path) -> str:
    return strip_comments(path.read_text(encoding="utf-8"))


def resolve(importer: Path, specifier: str) -> Path:
    if specifier.startswith("/"):
        return (WEB / specifier.lstrip("/")).resolve()
    return (importer.parent / specifier).resolve()


def specifiers(path: Path) -> list[str]:
    text = source_of(path)
    found = [m.group(3) for m in STATIC_IMPORT.finditer(text)]
    found += BARE_IMPORT.findall(text)
    found += DYNAMIC_IMPORT.findall(text)
    return found


def split_names(clause: str) -> list[tuple[str, str]]:
    """`a, b as c` -> [("a", "a"), ("b", "c")] as (name in the module, local name)."""
    pairs = []
    for part in clause.split(","):
        part = part.strip()
        if not part:
            continue
        bits = part.split()
        pairs.append((bits[0], bits[2] if len(bits) == 3 and bits[1] == "as" else bits[0]))
    return pairs


@cache
def exports_of(path: Path) -> frozenset[str]:
    text = source_of(path)
    names = set(EXPORT_DECLARATION.findall(text))
    for clause, origin in EXPORT_LIST.findall(text):
        names.update(exported for _, exported in split_names(clause))
        del origin  # re-exported names count as this module's exports either way
    for origin in EXPORT_STAR.findall(text):
        names.update(exports_of(resolve(path, origin)) - {"default"})
    if EXPORT_DEFAULT.search(text):
        names.add("default")
    return frozenset(names)


def imported_bindings(clause: str) -> tuple[list[str], str | None, bool]:
    """(named imports, namespace alias, has default import) of an import clause."""
    named: list[str] = []
    namespace = None
    has_default = False
    braces = re.search(r"\{([^}]*)\}", clause)
    if braces:
        named = [name for name, _ in split_names(braces.group(1))]
        clause = clause.replace(braces.group(0), "")
    star = re.search(r"\*\s+as\s+([A-Za-z_$][\w$]*)", clause)
    if star:
        namespace = star.group(1)
        clause = clause.replace(star.group(0), "")
    if re.search(r"[A-Za-z_$][\w$]*", clause.replace(",", " ")):
        has_default = True
    return named, namespace, has_default


def test_web_has_the_shell_files():
    for name in ("index.html", "app.js", "api.js", "session.js", "nav.js", "router.js", "styles.css"):
        assert (WEB / name).is_file(), f"web/{name} is missing"
    assert list((WEB / "pages").glob("*.js")), "web/pages/ has no page modules"


@pytest.mark.parametrize("module", modules(), ids=rel)
def test_every_relative_import_resolves_to_a_file_in_web(module: Path):
    problems = []
    for specifier in specifiers(module):
        if not specifier.startswith(("./", "../", "/")):
            problems.append(f"{specifier!r}: bare or remote specifier (no bundler, no import map, no CDN)")
            continue
        if not specifier.endswith(".js"):
            problems.append(f"{specifier!r}: browsers need the full file name, with .js")
        target = resolve(module, specifier)
        if WEB not in target.parents:
            problems.append(f"{specifier!r}: points outside web/")
        elif not target.is_file():
            problems.append(f"{specifier!r}: no such file {target.relative_to(WEB.parent)}")
    assert not problems, f"{rel(module)}:\n  " + "\n  ".join(problems)


@pytest.mark.parametrize("module", modules(), ids=rel)
def test_every_imported_name_is_exported_by_its_module(module: Path):
    text = source_of(module)
    problems = []
    for match in STATIC_IMPORT.finditer(text):
        kind, clause, specifier = match.groups()
        target = resolve(module, specifier)
        if not target.is_file() or VENDOR in target.parents:
            continue  # reported by the resolution test / vendored code is not ours to parse
        available = exports_of(target)
        if kind == "export":
            wanted = [] if clause.strip().startswith("*") else [n for n, _ in split_names(clause.strip("{} \n"))]
            namespace, has_default = None, False
        else:
            wanted, namespace, has_default = imported_bindings(clause)
        if has_default:
            wanted.append("default")
        problems += [f"{name!r} is not exported by {specifier}" for name in wanted if name not in available]
        if namespace:
            # `ns.member` must be a member the module exports (catches session.tokne()).
            code = QUOTED.sub('""', text)
            used = set(re.findall(rf"(?<![\w$.]){re.escape(namespace)}\.([A-Za-z_$][\w$]*)", code))
            problems += [f"{namespace}.{name} is not exported by {specifier}" for name in sorted(used - available)]
    assert not problems, f"{rel(module)}:\n  " + "\n  ".join(problems)


@pytest.mark.parametrize("page", sorted((WEB / "pages").glob("*.js")), ids=rel)
def test_every_page_module_keeps_the_page_contract(page: Path):
    names = exports_of(page)
    assert {"title", "render"} <= names, f"{rel(page)} must export `title` and `render(main, ctx)`; has {sorted(names)}"


def test_every_page_module_is_reachable():
    """A page nobody imports is dead code or a forgotten nav entry."""
    imported = {resolve(m, s) for m in modules() for s in specifiers(m)}
    orphans = [rel(p) for p in sorted((WEB / "pages").glob("*.js")) if p.resolve() not in imported]
    assert not orphans, f"page modules not imported by nav.js or app.js: {orphans}"


HTML_SINKS = re.compile(
    r"\.(?:innerHTML|outerHTML)\s*[+]?=|\binsertAdjacentHTML\(|\bdocument\.write(?:ln)?\(|\bcreateContextualFragment\("
)


@pytest.mark.parametrize("module", modules(), ids=rel)
def test_the_dom_is_built_from_text_never_from_html_strings(module: Path):
    """Names, emails and messages come from the API: they go in as text (ui.js `h()`), so none can inject markup."""
    code = QUOTED.sub('""', source_of(module))
    found = [match.group(0) for match in HTML_SINKS.finditer(code)]
    assert not found, f"{rel(module)} writes HTML from strings: {found}; build nodes with h() instead"


def test_public_pages_are_only_the_ones_meant_to_work_signed_out():
    """Pages outside the sign-in check are listed on purpose: today only the invitation link."""
    nav = source_of(WEB / "nav.js")
    public = re.search(r"export const PUBLIC_ENTRIES = \[(.*?)\];", nav, re.DOTALL)
    assert public, "nav.js must export PUBLIC_ENTRIES (pages reachable without a session)"
    assert re.findall(r"""path:\s*["']([^"']+)["']""", public.group(1)) == ["/set-password"]


def test_index_html_loads_files_that_exist_with_absolute_paths():
    html = (WEB / "index.html").read_text(encoding="utf-8")
    refs = re.findall(r"""<(?:script|link|img)\b[^>]*?\b(?:src|href)\s*=\s*["']([^"']+)["']""", html)
    assert "/app.js" in refs, "index.html must load /app.js as the entry module"
    assert re.search(r"""<script\b[^>]*type=["']module["'][^>]*src=["']/app\.js["']""", html)
    for ref in refs:
        # History routing serves index.html at /tasks/123 too: relative paths would break there.
        assert ref.startswith("/") and not ref.startswith("//"), f"index.html: {ref!r} must be an absolute local path"
        assert (WEB / ref.lstrip("/")).is_file(), f"index.html references {ref!r}, which does not exist in web/"


def test_nothing_is_loaded_from_another_origin():
    """The machine is offline and the CSP allows 'self' only: everything must be local (vendor/ if needed)."""
    offenders = []
    for path in [*modules(), WEB / "index.html", *WEB.rglob("*.css")]:
        if VENDOR in path.parents:
            continue
        text = path.read_text(encoding="utf-8")
        for match in re.finditer(r"""(?:src|href|from|import|url)\s*[=(]?\s*["']?((?:https?:)?//[^"')\s]+)""", text):
            offenders.append(f"{rel(path)}: {match.group(1)}")
    assert not offenders, "remote resources:\n  " + "\n  ".join(offenders)


def test_vendored_libraries_carry_their_licence():
    if not VENDOR.exists():
        pytest.skip("nothing vendored yet")

    def licensed(folder: Path) -> bool:
        return any(p.name.upper().startswith(("LICENSE", "LICENCE", "COPYING")) for p in folder.iterdir())

    missing = [entry.name for entry in sorted(VENDOR.iterdir()) if entry.is_dir() and not licensed(entry)]
    assert not missing, f"web/vendor/ entries without a LICENSE file: {missing}"


NODE = shutil.which("node")


@pytest.mark.skipif(NODE is None, reason="node is not installed; the syntax check is an extra, not a requirement")
@pytest.mark.parametrize("module", modules(), ids=rel)
def test_module_parses_as_an_es_module(module: Path):
    result = subprocess.run(
        [NODE, "--input-type=module", "--check"],
        input=module.read_text(encoding="utf-8"),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, f"{rel(module)} has a syntax error:\n{result.stderr}"
