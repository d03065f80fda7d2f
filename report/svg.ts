/**
 * A tiny, dependency-free SVG chart kit: line charts (axes, ticks, legend,
 * shaded bands, point markers) and bar charts with error whiskers. Output is
 * deterministic text (fixed number formatting, no ids or randomness); every
 * chart is an `<svg data-plot="…">` and every data series a
 * `<g data-series="…">` holding a non-empty `<path>`, so tests can count them.
 *
 * @module
 */

/** One (x, y) data point. */
export interface Point {
  x: number;
  y: number;
}

/** A band around a line at one x: from `lo` to `hi` (e.g. min–max over seeds). */
export interface BandPoint {
  x: number;
  lo: number;
  hi: number;
}

/** One line of a line chart. */
export interface LineSeries {
  /** Legend text and `data-series` value. */
  name: string;
  points: Point[];
  /** Optional shaded band, drawn under the line. */
  band?: BandPoint[];
  /** CSS color; defaults to the palette by series index. */
  color?: string;
  /** Draw the line dashed. */
  dashed?: boolean;
}

/** One bar of a bar chart; `lo`/`hi` draw a whisker (e.g. a 95% CI). */
export interface Bar {
  label: string;
  value: number;
  lo?: number;
  hi?: number;
  color?: string;
  /** Small text under the label, e.g. "n=3". */
  note?: string;
}

/** Options shared by the charts. */
export interface ChartOptions {
  /** Value of the `data-plot` attribute (a stable name for tests). */
  id: string;
  title: string;
  xLabel?: string;
  yLabel?: string;
  /** Outer width in px (default 360). */
  width?: number;
  /** Height of the plot area in px (default 170). */
  plotHeight?: number;
  /** Force the y range to include this value (e.g. 0). */
  includeY?: number;
  /**
   * Force the y range to include `[lo, hi]`: charts given the same range (and
   * data inside it) get identical y ticks, e.g. the rows of a figure.
   */
  yRange?: readonly [number, number];
  /** Label the x axis with integer ticks only (e.g. loop steps). */
  integerX?: boolean;
  /** Draw a dashed horizontal reference line at this y (e.g. 0), inside the y range. */
  refY?: number;
}

/** A categorical palette with good contrast (Tableau 10). */
export const PALETTE = [
  "#4e79a7",
  "#f28e2b",
  "#59a14f",
  "#e15759",
  "#b07aa1",
  "#76b7b2",
  "#edc948",
  "#9c755f",
  "#ff9da7",
  "#bab0ac",
];

const FONT = 11;
const MARGIN = { left: 52, right: 14, top: 28, bottom: 36 };
/** Left margin of a chart with a y-axis title (room for the rotated title). */
const LEFT_WITH_Y_TITLE = 64;
/** Rough width of one character at the label font size, for layout. */
const CHAR_W = 6.2;
const LEGEND_ROW = 16;

/** Escapes text for use in XML/HTML content and attribute values. */
export function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => ENTITIES[c]);
}

const ENTITIES: Record<string, string> = {
  "<": "&lt;",
  ">": "&gt;",
  "&": "&amp;",
  '"': "&quot;",
  "'": "&#39;",
};

/** A coordinate rounded to 0.01 px, without trailing zeros. */
export function fmtCoord(v: number): string {
  const r = Math.round(v * 100) / 100;
  return Object.is(r, -0) ? "0" : String(r);
}

/**
 * About `count` "nice" tick values (steps of 1, 2, 2.5 or 5 × 10^k) covering
 * [min, max]. A zero-width range is widened first.
 */
export function niceTicks(min: number, max: number, count = 5): number[] {
  [min, max] = widen(min, max);
  const raw = (max - min) / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const start = Math.floor(min / step + 1e-9) * step;
  const ticks: number[] = [];
  for (let v = start; v <= max + step * 1e-9; v += step) {
    ticks.push(Number(v.toPrecision(12)));
  }
  if (ticks[ticks.length - 1] < max - step * 1e-9) {
    ticks.push(Number((start + ticks.length * step).toPrecision(12)));
  }
  return ticks;
}

/**
 * About `count` integer ticks (steps of 1, 2 or 5 × 10^k, at least 1)
 * covering [min, max]; for a range without an integer inside it, the
 * integer nearest to its middle.
 */
export function integerTicks(min: number, max: number, count = 5): number[] {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return [0, 1];
  if (max < min) [min, max] = [max, min];
  const raw = Math.max(1, (max - min) / Math.max(1, count));
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw - 1e-9) ?? 10 * mag;
  const first = Math.ceil(min / step - 1e-9) * step + 0; // + 0: no -0
  const ticks: number[] = [];
  for (let v = first; v <= max + 1e-9; v += step) ticks.push(v);
  return ticks.length > 0 ? ticks : [Math.round((min + max) / 2)];
}

/** A tick label: up to 4 significant digits, no exponent for ordinary magnitudes. */
export function fmtTick(v: number): string {
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) return v.toExponential(1);
  return String(Number(v.toPrecision(4)));
}

/** Widens a degenerate or non-finite range so that it can be scaled. */
function widen(min: number, max: number): [number, number] {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return [0, 1];
  if (max - min > 1e-12 * Math.max(1, Math.abs(max))) return [min, max];
  if (Math.abs(min) <= 1e-12) return [0, 1];
  const pad = Math.abs(min) * 0.1;
  return [min - pad, max + pad];
}

/** Maps [d0, d1] linearly onto [r0, r1]. */
function scale(d0: number, d1: number, r0: number, r1: number): (v: number) => number {
  const k = (r1 - r0) / (d1 - d0);
  return (v) => r0 + (v - d0) * k;
}

/**
 * Escaped text that fits in `maxChars` characters: longer text is cut with
 * "…" and carries the whole text as an SVG `<title>` tooltip.
 */
export function fitText(text: string, maxChars: number): string {
  const max = Math.max(3, Math.floor(maxChars));
  if (text.length <= max) return escapeXml(text);
  return `<title>${escapeXml(text)}</title>${escapeXml(text.slice(0, max - 1))}…`;
}

/** Characters of the 12.5 px chart title that fit in a chart `width` px wide. */
function titleChars(width: number): number {
  return (width - 12) / 7.1;
}

/** Legend entries laid out in rows that fit `width`; returns items with offsets. */
function legendLayout(
  names: string[],
  width: number,
): { rows: number; items: { name: string; dx: number; row: number }[] } {
  const items: { name: string; dx: number; row: number }[] = [];
  let row = 0;
  let dx = 0;
  const maxChars = Math.max(3, Math.floor((width - 34) / CHAR_W));
  for (const name of names) {
    const w = 22 + Math.min(name.length, maxChars) * CHAR_W + 12;
    if (dx > 0 && dx + w > width) {
      row++;
      dx = 0;
    }
    items.push({ name, dx, row });
    dx += w;
  }
  return { rows: names.length ? row + 1 : 0, items };
}

/** The `<svg>` opening tag shared by the charts. */
function svgOpen(id: string, width: number, height: number, extra = ""): string {
  return `<svg xmlns="http://www.w3.org/2000/svg" class="chart" data-plot="${
    escapeXml(id)
  }"${extra} ` +
    `width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ` +
    `font-family="system-ui, -apple-system, 'Segoe UI', sans-serif" font-size="${FONT}" role="img">`;
}

/** Title and axis labels. */
function frameText(
  opts: ChartOptions,
  width: number,
  plotBottom: number,
  left = MARGIN.left,
  height = plotBottom + MARGIN.bottom,
): string[] {
  const out = [
    `<text x="8" y="16" font-size="12.5" font-weight="600" fill="#222">${
      fitText(opts.title, titleChars(width))
    }</text>`,
  ];
  if (opts.xLabel) {
    const cx = (left + width - MARGIN.right) / 2;
    out.push(
      `<text data-axis-title="x" x="${fmtCoord(cx)}" y="${
        fmtCoord(plotBottom + 30)
      }" text-anchor="middle" fill="#444">${escapeXml(opts.xLabel)}</text>`,
    );
  }
  if (opts.yLabel) {
    const cy = (MARGIN.top + plotBottom) / 2;
    // Centered on the plot; may extend over the margins, never past the chart's edges.
    const room = 2 * Math.min(cy, height - cy) - 8;
    out.push(
      `<text data-axis-title="y" transform="translate(13 ${
        fmtCoord(cy)
      }) rotate(-90)" text-anchor="middle" font-size="10" fill="#444">${
        fitText(opts.yLabel, room / 5.6)
      }</text>`,
    );
  }
  return out;
}

/** Horizontal grid lines and y tick labels. */
function yAxis(ticks: number[], y: (v: number) => number, x0: number, x1: number): string[] {
  const out: string[] = [];
  for (const t of ticks) {
    const py = fmtCoord(y(t));
    out.push(
      `<line x1="${x0}" x2="${fmtCoord(x1)}" y1="${py}" y2="${py}" stroke="#e6e6e6"/>`,
      `<text data-tick="y" x="${x0 - 6}" y="${py}" dy="0.32em" text-anchor="end" fill="#555">${
        escapeXml(fmtTick(t))
      }</text>`,
    );
  }
  return out;
}

/**
 * An SVG panel with the title and a centered "no data" message (and
 * `data-empty="true"`), for metrics a results database does not hold.
 */
export function emptyChart(opts: ChartOptions, message = "no data"): string {
  const width = opts.width ?? 360;
  const height = MARGIN.top + (opts.plotHeight ?? 170) + MARGIN.bottom;
  return [
    svgOpen(opts.id, width, height, ' data-empty="true"'),
    `<text x="8" y="16" font-size="12.5" font-weight="600" fill="#222">${
      fitText(opts.title, titleChars(width))
    }</text>`,
    `<rect x="${MARGIN.left}" y="${MARGIN.top}" width="${width - MARGIN.left - MARGIN.right}" ` +
    `height="${opts.plotHeight ?? 170}" fill="#fafafa" stroke="#ddd"/>`,
    `<text x="${fmtCoord((MARGIN.left + width - MARGIN.right) / 2)}" y="${
      fmtCoord(MARGIN.top + (opts.plotHeight ?? 170) / 2)
    }" text-anchor="middle" fill="#888" font-style="italic">${escapeXml(message)}</text>`,
    "</svg>",
  ].join("\n");
}

/**
 * A line chart: one `<g data-series>` per series (line path plus point
 * markers), optional shaded bands (`data-band`), axes with nice ticks
 * (integers only on x with `integerX`), axis titles, an optional dashed
 * reference line (`data-ref`), a legend under the plot. Non-finite points
 * are dropped; a chart without any finite point renders as `emptyChart`.
 */
export function lineChart(series: LineSeries[], opts: ChartOptions): string {
  const clean = series
    .map((s, i) => ({
      ...s,
      color: s.color ?? PALETTE[i % PALETTE.length],
      points: s.points.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y))
        .sort((a, b) => a.x - b.x),
      band: (s.band ?? []).filter((b) =>
        Number.isFinite(b.x) && Number.isFinite(b.lo) && Number.isFinite(b.hi)
      ).sort((a, b) => a.x - b.x),
    }))
    .filter((s) => s.points.length > 0);
  if (clean.length === 0) return emptyChart(opts);

  const width = opts.width ?? 360;
  const left = opts.yLabel ? LEFT_WITH_Y_TITLE : MARGIN.left;
  const plotH = opts.plotHeight ?? 170;
  // The legend spans the chart's whole width (long method names).
  const legendLeft = 10;
  const legendW = width - legendLeft - MARGIN.right;
  const legend = legendLayout(clean.map((s) => s.name), legendW);
  const height = MARGIN.top + plotH + MARGIN.bottom + legend.rows * LEGEND_ROW + 4;
  const plotBottom = MARGIN.top + plotH;

  const xs = clean.flatMap((s) => s.points.map((p) => p.x));
  const ys = clean.flatMap((s) => [
    ...s.points.map((p) => p.y),
    ...s.band.flatMap((b) => [b.lo, b.hi]),
  ]);
  if (opts.includeY !== undefined) ys.push(opts.includeY);
  if (opts.refY !== undefined) ys.push(opts.refY);
  if (opts.yRange) ys.push(...opts.yRange.filter(Number.isFinite));
  let [xMin, xMax] = widen(Math.min(...xs), Math.max(...xs));
  let xTicks: number[];
  if (opts.integerX) {
    if (xMax - xMin < 1) [xMin, xMax] = [(xMin + xMax) / 2 - 0.5, (xMin + xMax) / 2 + 0.5];
    xTicks = integerTicks(xMin, xMax, 6);
  } else {
    xTicks = niceTicks(xMin, xMax, 6).filter((t) => t >= xMin - 1e-9 && t <= xMax + 1e-9);
  }
  const yTicks = niceTicks(Math.min(...ys), Math.max(...ys), 4);
  const x = scale(xMin, xMax, left + 6, width - MARGIN.right - 6);
  const y = scale(yTicks[0], yTicks[yTicks.length - 1], plotBottom, MARGIN.top);

  const out = [
    svgOpen(opts.id, width, height),
    ...frameText(opts, width, plotBottom, left, height),
  ];
  out.push(...yAxis(yTicks, y, left, width - MARGIN.right));
  for (const t of xTicks) {
    const px = fmtCoord(x(t));
    out.push(
      `<line x1="${px}" x2="${px}" y1="${plotBottom}" y2="${plotBottom + 4}" stroke="#888"/>`,
      `<text data-tick="x" x="${px}" y="${plotBottom + 15}" text-anchor="middle" fill="#555">${
        escapeXml(fmtTick(t))
      }</text>`,
    );
  }
  out.push(
    `<line x1="${left}" x2="${
      width - MARGIN.right
    }" y1="${plotBottom}" y2="${plotBottom}" stroke="#888"/>`,
  );
  if (opts.refY !== undefined) {
    const py = fmtCoord(y(opts.refY));
    out.push(
      `<line data-ref="${escapeXml(fmtTick(opts.refY))}" x1="${left}" x2="${
        width - MARGIN.right
      }" y1="${py}" y2="${py}" stroke="#333" stroke-width="1" stroke-dasharray="4 3"/>`,
    );
  }
  for (const s of clean) {
    if (s.band.length === 0) continue;
    // A band at a single x is drawn as a thin box, so that it stays visible.
    const pts = s.band.length === 1
      ? [{ ...s.band[0], x: s.band[0].x - 0.04 * (xMax - xMin) }, {
        ...s.band[0],
        x: s.band[0].x + 0.04 * (xMax - xMin),
      }]
      : s.band;
    const upper = pts.map((b) => `${fmtCoord(x(b.x))} ${fmtCoord(y(b.hi))}`);
    const lower = pts.slice().reverse().map((b) => `${fmtCoord(x(b.x))} ${fmtCoord(y(b.lo))}`);
    out.push(
      `<path data-band="${escapeXml(s.name)}" d="M${upper.join(" L")} L${lower.join(" L")} Z" ` +
        `fill="${s.color}" fill-opacity="0.16" stroke="none"/>`,
    );
  }
  for (const s of clean) {
    const d = "M" + s.points.map((p) => `${fmtCoord(x(p.x))} ${fmtCoord(y(p.y))}`).join(" L");
    const dash = s.dashed ? ' stroke-dasharray="5 3"' : "";
    out.push(`<g data-series="${escapeXml(s.name)}">`);
    out.push(
      `<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2"${dash} stroke-linejoin="round"/>`,
    );
    if (s.points.length <= 40) {
      for (const p of s.points) {
        out.push(
          `<circle cx="${fmtCoord(x(p.x))}" cy="${fmtCoord(y(p.y))}" r="2.6" fill="${s.color}"/>`,
        );
      }
    }
    out.push("</g>");
  }
  const legendTop = plotBottom + MARGIN.bottom + 2;
  out.push(`<g data-legend="">`);
  for (const [i, it] of legend.items.entries()) {
    const s = clean[i];
    const lx = legendLeft + it.dx;
    const ly = legendTop + it.row * LEGEND_ROW;
    const dash = s.dashed ? ' stroke-dasharray="5 3"' : "";
    out.push(
      `<line x1="${fmtCoord(lx)}" x2="${
        fmtCoord(lx + 16)
      }" y1="${ly}" y2="${ly}" stroke="${s.color}" stroke-width="2.5"${dash}/>`,
      `<text x="${fmtCoord(lx + 21)}" y="${ly}" dy="0.32em" fill="#333">${
        fitText(it.name, (legendW - 34) / CHAR_W)
      }</text>`,
    );
  }
  out.push("</g>", "</svg>");
  return out.join("\n");
}

/**
 * A vertical bar chart with optional whiskers (`lo`–`hi`); the y range always
 * includes 0. Each bar is a `<g data-series>` whose `<path>` outlines the bar
 * (non-empty even for a zero bar). No bars → `emptyChart`.
 */
export function barChart(bars: Bar[], opts: ChartOptions): string {
  const clean = bars.filter((b) => Number.isFinite(b.value));
  if (clean.length === 0) return emptyChart(opts);
  const width = opts.width ?? 360;
  const plotLeft = opts.yLabel ? LEFT_WITH_Y_TITLE : MARGIN.left;
  const plotH = opts.plotHeight ?? 170;
  const labelRows = clean.some((b) => b.note) ? 2 : 1;
  const height = MARGIN.top + plotH + MARGIN.bottom + (labelRows - 1) * 13;
  const plotBottom = MARGIN.top + plotH;
  const ys = clean.flatMap((b) => [b.value, b.lo ?? b.value, b.hi ?? b.value]).filter(
    Number.isFinite,
  );
  ys.push(opts.includeY ?? 0);
  const yTicks = niceTicks(Math.min(...ys), Math.max(...ys), 4);
  const y = scale(yTicks[0], yTicks[yTicks.length - 1], plotBottom, MARGIN.top);
  const slot = (width - plotLeft - MARGIN.right) / clean.length;
  const barW = Math.min(56, slot * 0.62);
  const maxChars = Math.max(3, Math.floor(slot / CHAR_W));

  const out = [
    svgOpen(opts.id, width, height),
    ...frameText(opts, width, plotBottom + 13 * (labelRows - 1), plotLeft, height),
  ];
  out.push(...yAxis(yTicks, y, plotLeft, width - MARGIN.right));
  const y0 = y(Math.max(yTicks[0], Math.min(0, yTicks[yTicks.length - 1])));
  for (const [i, b] of clean.entries()) {
    const color = b.color ?? PALETTE[i % PALETTE.length];
    const cx = plotLeft + slot * (i + 0.5);
    const left = fmtCoord(cx - barW / 2);
    const right = fmtCoord(cx + barW / 2);
    const top = fmtCoord(y(b.value));
    out.push(`<g data-series="${escapeXml(b.label)}">`);
    out.push(
      `<path d="M${left} ${
        fmtCoord(y0)
      } H${right} V${top} H${left} Z" fill="${color}" fill-opacity="0.85" stroke="${color}"/>`,
    );
    if (
      b.lo !== undefined && b.hi !== undefined && Number.isFinite(b.lo) && Number.isFinite(b.hi)
    ) {
      const wl = fmtCoord(cx - 7);
      const wr = fmtCoord(cx + 7);
      const lo = fmtCoord(y(b.lo));
      const hi = fmtCoord(y(b.hi));
      const c = fmtCoord(cx);
      out.push(
        `<path data-whisker="" d="M${c} ${lo} V${hi} M${wl} ${lo} H${wr} M${wl} ${hi} H${wr}" stroke="#222" stroke-width="1.4" fill="none"/>`,
      );
    }
    out.push(
      `<text x="${fmtCoord(cx)}" y="${
        fmtCoord(y(b.hi ?? b.value) - 5)
      }" text-anchor="middle" font-size="10" fill="#333">${escapeXml(fmtTick(b.value))}</text>`,
    );
    out.push("</g>");
    const label = b.label.length > maxChars ? b.label.slice(0, maxChars - 1) + "…" : b.label;
    out.push(
      `<text x="${fmtCoord(cx)}" y="${plotBottom + 15}" text-anchor="middle" fill="#333"><title>${
        escapeXml(b.label)
      }</title>${escapeXml(label)}</text>`,
    );
    if (b.note) {
      out.push(
        `<text x="${fmtCoord(cx)}" y="${
          plotBottom + 28
        }" text-anchor="middle" font-size="10" fill="#777">${escapeXml(b.note)}</text>`,
      );
    }
  }
  out.push(
    `<line x1="${plotLeft}" x2="${width - MARGIN.right}" y1="${fmtCoord(y0)}" y2="${
      fmtCoord(y0)
    }" stroke="#888"/>`,
  );
  out.push("</svg>");
  return out.join("\n");
}
