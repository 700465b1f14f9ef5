// watch287g report: sortable tables, the map's colour switch, the state
// picker. Loaded from a file (no inline script, for a strict CSP); every page
// works without it.
"use strict";

function cellValue(row, index) {
  const cell = row.cells[index];
  if (!cell) return "";
  const sortKey = cell.getAttribute("data-sort");
  return sortKey !== null ? sortKey : cell.textContent.trim();
}

function compare(a, b) {
  const x = Number(a), y = Number(b);
  if (a !== "" && b !== "" && !Number.isNaN(x) && !Number.isNaN(y)) return x - y;
  return a.localeCompare(b, "en", { sensitivity: "base", numeric: true });
}

function makeSortable(table) {
  const headers = table.tHead ? Array.from(table.tHead.rows[0].cells) : [];
  headers.forEach((header, index) => {
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = header.textContent;
    header.textContent = "";
    header.appendChild(button);
    button.addEventListener("click", () => {
      const ascending = header.getAttribute("aria-sort") !== "ascending";
      headers.forEach((other) => other.removeAttribute("aria-sort"));
      header.setAttribute("aria-sort", ascending ? "ascending" : "descending");
      const body = table.tBodies[0];
      const rows = Array.from(body.rows);
      rows.sort((r1, r2) => compare(cellValue(r1, index), cellValue(r2, index)) * (ascending ? 1 : -1));
      rows.forEach((row) => body.appendChild(row));
    });
  });
}

function setupMapModes(figure) {
  const modes = figure.querySelector(".map-modes");
  const svg = figure.querySelector("svg.map");
  if (!modes || !svg) return;
  modes.hidden = false;
  modes.querySelectorAll("button[data-map-mode]").forEach((button) => {
    button.addEventListener("click", () => {
      const mode = button.getAttribute("data-map-mode");
      for (const element of [figure, svg]) {
        element.classList.toggle("by-count", mode === "count");
        element.classList.toggle("by-model", mode === "model");
      }
      modes.querySelectorAll("button").forEach((other) => other.setAttribute("aria-pressed", String(other === button)));
    });
  });
}

function setupStatePicker(select) {
  select.addEventListener("change", () => {
    if (select.value) window.location.href = select.getAttribute("data-root") + "states/" + select.value + ".html";
  });
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("table.sortable").forEach(makeSortable);
  document.querySelectorAll(".map-figure").forEach(setupMapModes);
  const picker = document.getElementById("state-picker");
  if (picker) setupStatePicker(picker);
});
