// gateway/www/chart.js — small bar charts drawn as SVG (no library), for
// Home and Analytics.
//
// barChart({ title, points, noun, summary, empty }) returns a <figure>:
//   - a title (<figcaption>),
//   - an <svg role="img"> whose aria-label says what it shows (the title,
//     the total, the highest bar) — the bars themselves are hidden from
//     assistive technology,
//   - a <details> "Show the numbers" holding a <table> of every point:
//     the accessible alternative, and what the tests read.
// points: [{ label, short?, key?, value }] in order (label: the row's
// name in the table and a bar's tooltip; short: the axis label, default
// label; key: the row's data-key, e.g. the ISO day).
// noun: [one, many] ("call", "calls"). empty: the text shown over the
// chart when every value is 0 (the axes are still drawn).
//
// Sizes and colours are SVG presentation attributes (the page's CSP
// forbids inline style, not attributes); the picture scales through its
// viewBox (width 100 %), so it fits a 390 px phone as well as a desktop.
// Bars are #1f5fbf on white (6.1:1), axes and text #535b6b (6.9:1): more
// than the 3:1 graphics need. The y axis goes to a round number (1, 2, 5
// × 10^n) at least 1, so all-zero data still has an axis; at most 6
// labels are written under the x axis, whatever the number of bars (30,
// 90 or 366 days, 24 hours).

const SVG = 'http://www.w3.org/2000/svg';
const W = 360, H = 190;
const LEFT = 34, RIGHT = 18, TOP = 10, BOTTOM = 28;
const BAR = '#1f5fbf', AXIS = '#535b6b', GRID = '#d9dde5';

function svg(tag, attrs = {}, text) {
    const node = document.createElementNS(SVG, tag);
    for (const [name, value] of Object.entries(attrs))
        node.setAttribute(name, String(value));
    if (text !== undefined)
        node.textContent = String(text);
    return node;
}

function html(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs))
        node.setAttribute(name, value);
    for (const child of children.flat())
        node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    return node;
}

// The smallest 1, 2 or 5 × 10^n at least max (and at least 1).
export function niceMax(max) {
    if (!(max > 1))
        return 1;
    const power = 10 ** Math.floor(Math.log10(max));
    for (const step of [1, 2, 5, 10])
        if (step * power >= max)
            return step * power;
    return 10 * power;
}

const number = (n) => Number(n).toLocaleString();

let uid = 0;

export function barChart({ title, points, noun = ['item', 'items'], summary, empty }) {
    const id = `chart-${++uid}`;
    const values = points.map((p) => Math.max(0, Number(p.value) || 0));
    const total = values.reduce((a, b) => a + b, 0);
    const max = niceMax(Math.max(0, ...values));
    const words = (n) => `${number(n)} ${n === 1 ? noun[0] : noun[1]}`;
    let label = `${title}: ${words(total)} in all`;
    if (total > 0) {
        const top = values.indexOf(Math.max(...values));
        label += `; the most, ${words(values[top])}, on ${points[top].label}`;
    }
    if (summary)
        label += `. ${summary}`;

    const plotW = W - LEFT - RIGHT, plotH = H - TOP - BOTTOM;
    const picture = svg('svg', { viewBox: `0 0 ${W} ${H}`, width: '100%', role: 'img',
                                 'aria-label': label, class: 'chart-svg',
                                 'font-family': 'system-ui, sans-serif', 'font-size': 11 });
    const art = svg('g', { 'aria-hidden': 'true' });
    picture.append(art);
    // Grid lines and y labels at 0, half and the top.
    for (const fraction of [0, 0.5, 1]) {
        const y = TOP + plotH - fraction * plotH;
        const value = max * fraction;
        art.append(svg('line', { x1: LEFT, x2: W - RIGHT, y1: y, y2: y,
                                 stroke: fraction === 0 ? AXIS : GRID, 'stroke-width': 1 }));
        if (Number.isInteger(value))
            art.append(svg('text', { x: LEFT - 4, y: y + 3.5, 'text-anchor': 'end', fill: AXIS },
                           number(value)));
    }
    // The bars: a slot per point, the bar 80 % of it (all of it when thin).
    const slot = plotW / Math.max(1, points.length);
    const barW = slot >= 4 ? slot * 0.8 : slot;
    points.forEach((point, i) => {
        const height = (values[i] / max) * plotH;
        if (height <= 0)
            return;
        const bar = svg('rect', { x: (LEFT + i * slot + (slot - barW) / 2).toFixed(2),
                                  y: (TOP + plotH - height).toFixed(2),
                                  width: barW.toFixed(2), height: height.toFixed(2), fill: BAR,
                                  class: 'chart-bar' });
        bar.append(svg('title', {}, `${point.label}: ${words(values[i])}`));
        art.append(bar);
    });
    // At most 6 x labels, evenly spread, the last point always labelled.
    const every = Math.max(1, Math.ceil(points.length / 6));
    points.forEach((point, i) => {
        if ((points.length - 1 - i) % every !== 0)
            return;
        art.append(svg('text', { x: (LEFT + i * slot + slot / 2).toFixed(2), y: H - BOTTOM + 14,
                                 'text-anchor': 'middle', fill: AXIS },
                       point.short || point.label));
    });
    if (total === 0 && empty)
        art.append(svg('text', { x: LEFT + plotW / 2, y: TOP + plotH / 2, 'text-anchor': 'middle',
                                 fill: AXIS, 'font-size': 12 }, empty));

    const table = html('table', { class: 'chart-data' },
                       html('caption', { class: 'sr' }, title),
                       html('thead', {}, html('tr', {},
                                              html('th', { scope: 'col' }, 'When'),
                                              html('th', { scope: 'col' }, noun[1].charAt(0)
                                                   .toUpperCase() + noun[1].slice(1)))),
                       html('tbody', {}, points.map((point, i) =>
                           html('tr', point.key ? { 'data-key': point.key } : {}, html('th', { scope: 'row' }, point.label),
                                html('td', {}, number(values[i]))))));
    return html('figure', { class: 'chart', 'aria-labelledby': `${id}-title`,
                            'data-total': String(total) },
                html('figcaption', { id: `${id}-title`, class: 'chart-title' }, title),
                picture,
                html('details', { class: 'chart-details' },
                     html('summary', {}, 'Show the numbers'), table));
}
