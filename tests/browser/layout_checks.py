"""What R-UI-3 asks of one page on screen, measured in the browser: the layout probe and axe-core.

`layout_problems(tab)` returns sentences, one per thing a person would notice (the page scrolls sideways, a
button off the edge, a cell cut without a way to read it); `axe_problems(tab)` returns axe-core's serious and
critical violations (and the moderate rules we hold ourselves to). Both return [] for a page that is right,
so a sweep can collect every page's problems and fail once with all of them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

# axe-core, vendored with its licence (tests/browser/vendor/axe-core/README.md says which version and why).
AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
AXE_IMPACTS = {"serious", "critical"}
# Moderate rules the pages keep too: one "Main" navigation, headings that do not skip levels.
AXE_ALSO = {"landmark-unique", "heading-order"}

# One pass over the page. Tolerance: half a pixel for sub-pixel layout.
_PROBE = """
() => {
  const problems = [];
  const vw = window.innerWidth;
  const say = (el) => {
    const id = el.getAttribute('data-testid');
    const text = (el.innerText || el.textContent || '').trim().replace(/\\s+/g, ' ').slice(0, 50);
    return `<${el.tagName.toLowerCase()}${id ? ` data-testid="${id}"` : ''}> "${text}"`;
  };
  const page = document.scrollingElement.scrollWidth;
  if (page > vw) problems.push(`the page scrolls sideways: ${page}px wide in a ${vw}px window`);

  const main = document.querySelector('main');
  if (!main) return problems;
  const scrolls = (el) => ['auto', 'scroll'].includes(getComputedStyle(el).overflowX);
  const inOwnScroller = (el) => {
    for (let up = el.parentElement; up && up !== document.body; up = up.parentElement) {
      if (scrolls(up)) return true;
    }
    return false;
  };
  const shown = (el) => {
    const box = el.getBoundingClientRect();
    return box.width > 0 && box.height > 0 && getComputedStyle(el).visibility !== 'hidden';
  };
  for (const el of main.querySelectorAll('a[href], button, [role="button"], summary')) {
    if (!shown(el) || el.closest('.visually-hidden')) continue;
    const box = el.getBoundingClientRect();
    if ((box.left < -0.5 || box.right > vw + 0.5) && !inOwnScroller(el)) {
      problems.push(`${say(el)} is outside the window (${Math.round(box.left)}..${Math.round(box.right)} of ${vw}px)`);
    }
  }
  // A list's table fits its box: a column scrolled out of sight is a column nobody reads (on a phone the
  // rows become cards). Query results (.sql-table: any columns at all) scroll in their own box instead.
  for (const box of main.querySelectorAll('.table-wrap')) {
    if (!shown(box) || box.querySelector('.sql-table')) continue;
    if (box.scrollWidth > box.clientWidth + 1) {
      const name = box.querySelector('caption')?.textContent.trim() || say(box);
      problems.push(`the table "${name}" is wider than its box (${box.scrollWidth}px in ${box.clientWidth}px)`);
    }
  }
  // A cell squeezed so narrow that its text reads as pieces (an email broken every four letters).
  for (const cell of main.querySelectorAll('td, th')) {
    if (!shown(cell) || cell.closest('.sql-table, .visually-hidden')) continue;
    const text = (cell.innerText || '').trim();
    const style = getComputedStyle(cell);
    const width = cell.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
    if (text.length > 12 && width < 64) {
      problems.push(`${say(cell)} is squeezed into a ${Math.round(width)}px column`);
    }
  }
  // A box that hides what overflows it, with text in it that does not fit, and nothing to read it by.
  const hides = (value) => value === 'hidden' || value === 'clip';
  for (const el of main.querySelectorAll('*')) {
    if (!shown(el) || el.closest('.visually-hidden, svg')) continue;
    const style = getComputedStyle(el);
    if (el.clientWidth <= 1 || el.clientHeight <= 1) continue; // the visually-hidden pattern
    const cutSideways = hides(style.overflowX) && el.scrollWidth > el.clientWidth + 1;
    const cutBelow = hides(style.overflowY) && el.scrollHeight > el.clientHeight + 1;
    if (!cutSideways && !cutBelow) continue;
    if (!(el.innerText || '').trim()) continue;
    if (el.closest('[title]') || el.closest('details')) continue; // a tooltip or an expander reads it
    problems.push(`${say(el)} is cut (${cutSideways ? 'sideways' : 'below'}) with no title to read it`);
  }
  return problems;
}
"""


def layout_problems(tab: Any) -> list[str]:
    return tab.evaluate(_PROBE)


def axe_problems(tab: Any) -> list[str]:
    """Inject axe-core (the contexts bypass the page's CSP, which allows only the page's own scripts) and run it."""
    if not tab.evaluate("() => typeof window.axe === 'object'"):
        tab.add_script_tag(path=str(AXE))
    violations = tab.evaluate("async () => (await window.axe.run(document, {resultTypes: ['violations']})).violations")
    return [
        f"axe {v['impact']} {v['id']}: {v['help']} ({len(v['nodes'])} nodes, e.g. {v['nodes'][0]['target']})"
        for v in violations
        if v["impact"] in AXE_IMPACTS or v["id"] in AXE_ALSO
    ]
