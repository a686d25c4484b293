// The class matrix, enhanced: sort by clicking a column header, filter rows by student name.
// Without JavaScript the page still shows every row (sorted by student name); this only adds.
"use strict";

(function () {
  const table = document.getElementById("grades");
  if (!table || !table.tHead || !table.tBodies.length) {
    return;
  }
  const body = table.tBodies[0];
  const headers = Array.from(table.tHead.rows[0].cells);

  // Missing values (no result) always sort last, whichever the direction.
  function compare(a, b, kind) {
    if (kind === "number") {
      return parseFloat(a) - parseFloat(b);
    }
    return a.localeCompare(b, undefined, { numeric: true, sensitivity: "base" });
  }

  function sortBy(index) {
    const th = headers[index];
    const kind = th.dataset.sort;
    const ascending = th.getAttribute("aria-sort") !== "ascending";
    headers.forEach(function (other) { other.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    const value = function (row) { return row.cells[index].dataset.value || ""; };
    const name = function (row) { return row.cells[0].dataset.value || ""; };
    const rows = Array.from(body.rows);
    rows.sort(function (x, y) {
      const a = value(x);
      const b = value(y);
      if (a === "" || b === "") {
        return (a === "") - (b === "") || compare(name(x), name(y), "text");
      }
      const order = compare(a, b, kind);
      return (ascending ? order : -order) || compare(name(x), name(y), "text");
    });
    rows.forEach(function (row) { body.appendChild(row); });
  }

  headers.forEach(function (th, index) {
    if (!th.dataset.sort) {
      return;
    }
    const button = document.createElement("button");
    button.type = "button";
    button.className = "sort";
    while (th.firstChild) {
      button.appendChild(th.firstChild);
    }
    th.appendChild(button);
    button.addEventListener("click", function () { sortBy(index); });
  });

  const box = document.getElementById("filter-box");
  const input = document.getElementById("filter");
  const count = document.getElementById("filter-count");
  if (!box || !input) {
    return;
  }
  box.hidden = false;
  input.addEventListener("input", function () {
    const wanted = input.value.trim().toLowerCase();
    let shown = 0;
    Array.from(body.rows).forEach(function (row) {
      const match = (row.dataset.student || "").toLowerCase().includes(wanted);
      row.hidden = !match;
      shown += match ? 1 : 0;
    });
    if (count) {
      count.textContent = wanted ? shown + " of " + body.rows.length + " students" : "";
    }
  });
})();
