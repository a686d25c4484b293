// The class matrix, enhanced: sort by clicking a column header, filter rows by student name (the footer's
// mean and median then cover the students shown). Without JavaScript the page still shows every row (sorted
// by student name) and the whole class's statistics; this only adds.
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
  const sortHint = document.getElementById("sort-hint");
  if (sortHint) {
    sortHint.hidden = false;
  }

  // The footer's statistics over the rows shown: each counts the cells that carry data-stat (grades only,
  // as the page computed them for the whole class), rounded to 2 places like the page's own numbers.
  const footRows = table.tFoot ? Array.from(table.tFoot.rows) : [];
  const classCells = footRows.map(function (row) {
    return Array.from(row.cells, function (cell) { return cell.textContent; });
  });

  function statistic(kind, values) {
    if (!values.length) {
      return "–";
    }
    values.sort(function (a, b) { return a - b; });
    const middle = Math.floor(values.length / 2);
    const value = kind === "mean"
      ? values.reduce(function (sum, v) { return sum + v; }, 0) / values.length
      : (values.length % 2 ? values[middle] : (values[middle - 1] + values[middle]) / 2);
    return String(Math.round(value * 100) / 100);
  }

  function updateFooter(filtered, shown) {
    footRows.forEach(function (row, r) {
      const kind = row.cells[0].dataset.kind;
      if (!kind) {
        return;
      }
      if (!filtered) {
        Array.from(row.cells).forEach(function (cell, i) { cell.textContent = classCells[r][i]; });
        return;
      }
      row.cells[0].textContent = (kind === "mean" ? "Mean" : "Median") + " of " + shown.length + " shown";
      for (let i = 1; i < row.cells.length; i += 1) {
        const values = shown
          .map(function (tr) { return tr.cells[i].dataset.stat; })
          .filter(function (v) { return v !== undefined; })
          .map(parseFloat);
        row.cells[i].textContent = statistic(kind, values);
      }
    });
  }

  const box = document.getElementById("filter-box");
  const input = document.getElementById("filter");
  const count = document.getElementById("filter-count");
  if (!box || !input) {
    return;
  }
  box.hidden = false;
  input.addEventListener("input", function () {
    const wanted = input.value.trim().toLowerCase();
    const shown = [];
    Array.from(body.rows).forEach(function (row) {
      const match = (row.dataset.student || "").toLowerCase().includes(wanted);
      row.hidden = !match;
      if (match) {
        shown.push(row);
      }
    });
    if (count) {
      count.textContent = wanted ? shown.length + " of " + body.rows.length + " students" : "";
    }
    updateFooter(Boolean(wanted), shown);
  });
})();
