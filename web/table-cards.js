// Tables become cards on a phone (styles.css, "tables as cards on a phone"): there each row is a card and
// each cell shows its column's heading beside its value (`data-label`). The pages build plain tables; this
// labels every body and footer cell with its column's heading as rows arrive, so no page has to, and a
// table added tomorrow reads right on a phone too. A cell that already has a data-label keeps it; a cell
// spanning several columns (an editor row, a "Total" row heading) gets none.

/** Label the cells of `table` that have no data-label yet with their column's heading text. */
export function labelCells(table) {
  const headRow = table.tHead?.rows[table.tHead.rows.length - 1];
  if (!headRow) return;
  const headings = [];
  for (const th of headRow.cells) {
    const text = th.textContent.replace(/\s+/g, " ").trim();
    for (let span = 0; span < th.colSpan; span++) headings.push(span === 0 ? text : "");
  }
  const bodies = [...table.tBodies, ...(table.tFoot ? [table.tFoot] : [])];
  for (const body of bodies) {
    for (const row of body.rows) {
      let column = 0;
      for (const cell of row.cells) {
        if (cell.colSpan === 1 && headings[column] && !cell.hasAttribute("data-label")) {
          cell.setAttribute("data-label", headings[column]);
        }
        column += cell.colSpan;
      }
    }
  }
}

/** Keep labelling every `.table` under `root` as pages render and rows load ("Load more", filters). */
export function labelTablesIn(root) {
  let pending = false;
  const run = () => {
    pending = false;
    for (const table of root.querySelectorAll("table.table")) labelCells(table);
  };
  // childList only: setting data-label (an attribute) does not wake the observer again.
  new MutationObserver(() => {
    if (!pending) {
      pending = true;
      queueMicrotask(run);
    }
  }).observe(root, { childList: true, subtree: true });
  run();
}
