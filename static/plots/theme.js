"use strict";
// Make the Bokeh plots follow the page's colour theme.
//
// Django admin's theme toggle sets <html data-theme="light|dark|auto"> and
// stores the choice in localStorage. The value "auto" follows the browser's
// prefers-color-scheme. The plots draw on canvas, which CSS cannot reach, so
// this script sets the frame colours of the Bokeh models themselves (plot
// background, axes, grids, titles, legends, tables) and restores the
// originals when the theme turns light again. Glyph colours stay as the
// server sends them.
// NOTE: the palette's black (erred tasks) has low contrast on the dark
// plot background.
{
  const DARK = {
    background: "#1e1e1e",
    border: "#121212",
    text: "#eeeeee",
    line: "#8c8c8c",
    grid: "#3a3a3a",
  };

  // Frame properties and the dark colour each one takes.
  const DARK_PROPERTIES = {
    background_fill_color: DARK.background,
    border_fill_color: DARK.border,
    outline_line_color: DARK.line,
    axis_line_color: DARK.line,
    major_tick_line_color: DARK.line,
    minor_tick_line_color: DARK.line,
    major_label_text_color: DARK.text,
    axis_label_text_color: DARK.text,
    group_text_color: DARK.text,
    grid_line_color: DARK.grid,
    label_text_color: DARK.text,
    title_text_color: DARK.text,
    border_line_color: DARK.line,
  };

  // Titles take only a text colour, because their background and border
  // properties would draw a box around the text.
  const TITLE_PROPERTIES = { text_color: DARK.text };

  // Model types whose frame properties change. Glyphs are not among them.
  const FRAME_TYPES = /^(Plot|Figure|GMap|\w*Axis|Grid|Legend|ColorBar|Title)$/;

  const TABLE_CSS = `
    :host {
      --special: #2a2a2a; --odd: #262626; --muted-text: #a0a0a0;
      --selected: #264653; color: ${DARK.text};
    }
    .slick-viewport, .grid-canvas, .slick-row, .slick-cell,
    .slick-header, .slick-header-columns, .slick-header-column {
      background: ${DARK.background}; color: ${DARK.text};
    }
    .slick-row.odd, .slick-row.odd .slick-cell { background: var(--odd); }
  `;

  // Original light values, so a switch back to light restores them.
  const originals = new WeakMap();

  function modelType(model) {
    return model.type || model.constructor.name;
  }

  function isDark() {
    const theme =
      document.documentElement.dataset.theme ||
      window.localStorage.getItem("theme") ||
      "auto";
    if (theme === "dark" || theme === "light") {
      return theme === "dark";
    }
    return window.matchMedia("(prefers-color-scheme: dark)").matches;
  }

  function frameChanges(model, properties, dark) {
    const saved = originals.get(model) || {};
    const changes = {};
    for (const [name, colour] of Object.entries(properties)) {
      if (!(name in model.properties)) {
        continue;
      }
      if (dark) {
        if (!(name in saved)) {
          saved[name] = model[name];
        }
        // A property switched off (None) stays off.
        if (saved[name] !== null && model[name] !== colour) {
          changes[name] = colour;
        }
      } else if (name in saved && model[name] !== saved[name]) {
        changes[name] = saved[name];
      }
    }
    originals.set(model, saved);
    return changes;
  }

  function themeTable(model, dark) {
    const sheets = model.stylesheets.filter((sheet) => sheet !== TABLE_CSS);
    if (dark) {
      sheets.push(TABLE_CSS);
    }
    if (sheets.length !== model.stylesheets.length) {
      model.stylesheets = sheets;
    }
  }

  function applyTheme() {
    if (window.Bokeh === undefined) {
      return;
    }
    const dark = isDark();
    document.documentElement.classList.toggle("plots-dark", dark);
    for (const doc of window.Bokeh.documents) {
      for (const model of doc._all_models.values()) {
        const type = modelType(model);
        if (type === "DataTable") {
          themeTable(model, dark);
        } else if (FRAME_TYPES.test(type)) {
          const properties = type === "Title" ? TITLE_PROPERTIES : DARK_PROPERTIES;
          const changes = frameChanges(model, properties, dark);
          if (Object.keys(changes).length > 0) {
            model.setv(changes);
          }
        }
      }
    }
  }

  new MutationObserver(applyTheme).observe(document.documentElement, {
    attributes: true,
    attributeFilter: ["data-theme"],
  });
  window
    .matchMedia("(prefers-color-scheme: dark)")
    .addEventListener("change", applyTheme);
  // The document arrives over the websocket after the page loads, and a
  // panel may add models later, so new models are themed on the next pass.
  window.setInterval(applyTheme, 1000);
  window.addEventListener("load", applyTheme);
}
