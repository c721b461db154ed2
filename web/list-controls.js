// Search and sort above a growing list (R-UI-5): a search box and a "Sort by" picker whose choices are the
// list's columns in either direction. The API does the work (`?q=&sort=&order=`): the list is paged, so
// sorting or searching only the rows on screen would be wrong. The choice lives in the page's address, so a
// reload or a shared link shows the same list.

import { h } from "./ui.js";

const TYPING_PAUSE_MS = 350; // search once the person stops typing, not on every key

/** "title:asc" -> {sort: "title", order: "asc"}; "" -> {} (the list's default order). */
export function parseSortChoice(value) {
  const [sort, order] = String(value ?? "").split(":");
  return sort ? { sort, order: order || null } : {};
}

/**
 * searchSortControls({testid, label, searchLabel, placeholder, choices, initial, signal, onChange})
 *   choices  [{value: "title:asc", label: "Title, A to Z"}, …]; the first is the list's default
 *   initial  {q, sort: "title:asc"}; onChange({q, sort, order}) after a pause in typing, a pick, or Enter
 *   whileSearching  {columns: ["title"], choice: "title:asc"}: the orders a search can come in (a search reads
 *            an index in that order) and the one to move to when the picked order is not one of them; the
 *            move happens as soon as there is text in the box, so no request ever mixes the two
 * -> {element, search, sort, values()}. Test ids: `<testid>-search`, `<testid>-sort`.
 */
export function searchSortControls({
  testid,
  label,
  searchLabel,
  placeholder,
  choices,
  initial = {},
  whileSearching = null,
  signal,
  onChange,
}) {
  const search = h("input", {
    type: "search",
    id: `${testid}-q`,
    name: "q",
    value: initial.q ?? "",
    autocomplete: "off",
    maxlength: "100",
    placeholder,
    "data-testid": `${testid}-search`,
  });
  const known = choices.some((choice) => choice.value === initial.sort);
  const sort = h(
    "select",
    { id: `${testid}-sort`, name: "sort", "data-testid": `${testid}-sort` },
    choices.map((choice) =>
      h("option", { value: choice.value, selected: known ? choice.value === initial.sort : choice === choices[0] }, choice.label),
    ),
  );
  const element = h(
    "form",
    { class: "filters", role: "search", "aria-label": label, "data-testid": `${testid}-controls` },
    h("div", { class: "field grow" }, h("label", { for: `${testid}-q` }, searchLabel), search),
    h("div", { class: "field" }, h("label", { for: `${testid}-sort` }, "Sort by"), sort),
  );

  /** With text in the box, an order a search cannot come in becomes the one it can (and says so on screen). */
  const fitSearch = () => {
    if (!whileSearching || !search.value.trim()) return;
    if (!whileSearching.columns.includes(parseSortChoice(sort.value).sort)) sort.value = whileSearching.choice;
  };
  const values = () => {
    fitSearch();
    return { q: search.value.trim(), ...parseSortChoice(sort.value), choice: sort.value };
  };
  fitSearch();
  let timer = null;
  const changed = () => {
    window.clearTimeout(timer);
    onChange(values());
  };
  search.addEventListener("input", () => {
    fitSearch();
    window.clearTimeout(timer);
    timer = window.setTimeout(changed, TYPING_PAUSE_MS);
  });
  sort.addEventListener("change", changed);
  element.addEventListener("submit", (event) => {
    event.preventDefault();
    changed();
  });
  signal?.addEventListener("abort", () => window.clearTimeout(timer));

  return {
    element,
    search,
    sort,
    values,
  };
}

/** The page's address with these query parameters (empty ones left out), for history.replaceState. */
export function addressWith(path, params) {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) if (value) query.set(name, value);
  const text = query.toString();
  return text ? `${path}?${text}` : path;
}
