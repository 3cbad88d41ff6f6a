#!/usr/bin/env node
// tools/docs-build.mjs OUT [GUIDES] — builds what the gateway serves under /docs
// (gateway/src/gw_static.c) into the directory OUT, replacing it:
//
//   OUT/index.html               docs/site/index.html (GET /docs)
//   OUT/assets/                  Redoc's standalone bundle and its licence
//                                notice (node_modules/redoc), docs/site/*.js
//                                and *.css
//   OUT/guides/<name>.html       docs/guides/<name>.md (or GUIDES/<name>.md)
//                                rendered with marked
//   OUT/guides/index.html        the list of guides, by title
//   OUT/**/<file>.gz             gzip'd copies of the text files of 1 KiB or more
//
// `make docs` runs it after `npm ci`. A guide's name must be [a-z0-9-]
// (the URL is /docs/guides/<name>); other Markdown files there are left
// out with a warning. Links between guides written for GitHub
// (`operator.md#backups`) are rewritten to the served names
// (`operator#backups`); headings get GitHub-style ids so such anchors land.
// Links to other files of the source tree (`../API.md`) keep their text
// without a link, since the server has no such page.
// Code is escaped by marked, and so is any HTML written in the Markdown: a
// guide shows `<token>` or `<script>` as text (GitHub would drop them), and
// the pages' CSP runs no script in any case.
//
// Exits 1 with a message when the bundle or a source is missing.

import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync,
         writeFileSync, copyFileSync } from 'node:fs';
import { dirname, join, posix, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { Marked } from 'marked';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const out = process.argv[2];
if (!out) {
    console.error('usage: tools/docs-build.mjs OUT [GUIDES]');
    process.exit(2);
}
const site = join(root, 'docs/site');
const guidesDir = process.argv[3] ? resolve(process.argv[3]) : join(root, 'docs/guides');
const redoc = join(root, 'node_modules/redoc/bundles');

function die(message) {
    console.error(`docs-build: ${message}`);
    process.exit(1);
}

// A relative link of a guide as a path from the top of the source tree.
function sourcePath(href) {
    return posix.normalize(posix.join('docs/guides', href.replace(/#.*$/, '')));
}

function escapeHtml(text) {
    return String(text).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
                       .replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

// GitHub's anchor for a heading: lower case, punctuation dropped, spaces
// to dashes; repeats get -1, -2...
function slugger() {
    const seen = new Map();
    return (text) => {
        let slug = text.toLowerCase().trim()
                       .replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-');
        const count = seen.get(slug) || 0;
        seen.set(slug, count + 1);
        return count ? `${slug}-${count}` : slug;
    };
}

function page(title, body, extraClass) {
    return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} — Switchboard</title>
<link rel="stylesheet" href="/docs/assets/guide.css">
</head>
<body${extraClass ? ` class="${extraClass}"` : ''}>
<header class="sb-bar">
  <strong>Switchboard</strong>
  <a href="/docs">API reference</a>
  <a href="/docs/guides/">Guides</a>
  <a href="/openapi.json">openapi.json</a>
</header>
<main>
${body}
</main>
</body>
</html>
`;
}

// Renders one guide: { name, title, summary, html }.
function renderGuide(name, markdown) {
    const slug = slugger();
    let title = null, summary = '';
    const marked = new Marked({ gfm: true });
    marked.use({
        walkTokens(token) {
            if (token.type === 'link') {
                const m = /^(?:\.\/)?([a-z0-9-]+)\.md(#.*)?$/.exec(token.href);
                if (m)
                    token.href = m[1] + (m[2] || '');
            }
        },
        renderer: {
            html({ text }) {
                return escapeHtml(text);
            },
            // A link into the source tree outside docs/guides (../API.md,
            // ../../README.md) has nothing to point at on a server: its
            // text stays, and its title names the file.
            link({ href, tokens }) {
                if (/^(?![a-z][a-z0-9+.-]*:|\/|#)/i.test(href) && /(^\.\.\/|\.md(#|$))/.test(href))
                    return `<span class="sb-source" title="${escapeHtml(sourcePath(href))} in the ` +
                           'source tree">' +
                           `${this.parser.parseInline(tokens)}</span>`;
                return false;
            },
            heading({ tokens, depth }) {
                const inner = this.parser.parseInline(tokens);
                const plain = inner.replace(/<[^>]*>/g, '').replace(/&[a-z#0-9]+;/g, decodeEntity);
                return `<h${depth} id="${escapeHtml(slug(plain))}">${inner}</h${depth}>\n`;
            }
        }
    });
    for (const token of marked.lexer(markdown)) {
        if (!title && token.type === 'heading' && token.depth === 1)
            title = token.text;
        else
        if (title && !summary && token.type === 'paragraph')
            summary = token.text;
    }
    const html = marked.parse(markdown);
    const plain = new Marked({ gfm: true, renderer: { html: ({ text }) => escapeHtml(text) } });
    const inline = (text) => plain.parseInline(text).replace(/<[^>]*>/g, '');
    title = title ? inline(title) : name;
    summary = inline(summary).replace(/\s+/g, ' ').trim();
    if (summary.length > 220)
        summary = summary.slice(0, 217).replace(/\s+\S*$/, '') + '…';
    // inline() gives HTML text (entities escaped): kept as is in the page.
    return { name, title, summary, html };
}

const tmp = `${out}.tmp`;
rmSync(tmp, { recursive: true, force: true });
mkdirSync(join(tmp, 'assets'), { recursive: true });
mkdirSync(join(tmp, 'guides'), { recursive: true });

// The reference page and its assets.
if (!existsSync(join(redoc, 'redoc.standalone.js')))
    die(`no ${redoc}/redoc.standalone.js: run npm ci first`);
copyFileSync(join(redoc, 'redoc.standalone.js'), join(tmp, 'assets/redoc.standalone.js'));
copyFileSync(join(redoc, 'redoc.standalone.js.LICENSE.txt'),
             join(tmp, 'assets/redoc.standalone.js.LICENSE.txt'));
copyFileSync(join(site, 'index.html'), join(tmp, 'index.html'));
for (const file of readdirSync(site).sort())
    if (/^[a-z0-9][a-z0-9-]*\.(js|css)$/.test(file))
        copyFileSync(join(site, file), join(tmp, 'assets', file));

// The guides: getting-started first, the others by name.
const names = existsSync(guidesDir) ? readdirSync(guidesDir).filter((f) => f.endsWith('.md')) : [];
const guides = [];
for (const file of names) {
    const name = file.slice(0, -3);
    if (!/^[a-z0-9][a-z0-9-]*$/.test(name) || name === 'index') {
        console.error(`docs-build: ${guidesDir}/${file} left out: a guide's name is [a-z0-9-] ` +
                      `and not "index"`);
        continue;
    }
    guides.push(renderGuide(name, readFileSync(join(guidesDir, file), 'utf8')));
}
guides.sort((a, b) => (a.name === 'getting-started' ? -1 : b.name === 'getting-started' ? 1
                       : a.name.localeCompare(b.name)));
for (const guide of guides)
    writeFileSync(join(tmp, 'guides', `${guide.name}.html`),
                  page(guide.title.replace(/&[a-z#0-9]+;/g, decodeEntity), guide.html));

function decodeEntity(entity) {
    const known = { '&amp;': '&', '&lt;': '<', '&gt;': '>', '&quot;': '"', '&#39;': "'" };
    return known[entity] || entity;
}

const items = guides.map((g) =>
    `<li><a href="/docs/guides/${g.name}">${g.title}</a>` +
    (g.summary ? `<p>${g.summary}</p>` : '') + '</li>').join('\n');
writeFileSync(join(tmp, 'guides/index.html'),
              page('Guides', `<h1>Guides</h1>\n` +
                   (guides.length ? `<ul class="sb-guides">\n${items}\n</ul>`
                                  : '<p>No guides yet.</p>') +
                   `\n<p>The API reference is at <a href="/docs">/docs</a>.</p>`));

// A gzip'd copy beside every text file worth it, which the gateway sends
// to clients that take gzip (Redoc's bundle: 1.1 MB, some 330 KB gzip'd).
for (const sub of ['', 'assets', 'guides'])
    for (const file of readdirSync(join(tmp, sub))) {
        const path = join(tmp, sub, file);
        if (!/\.(html|js|css|txt)$/.test(file))
            continue;
        const data = readFileSync(path);
        if (data.length >= 1024)
            writeFileSync(`${path}.gz`, gzipSync(data, { level: 9 }));
    }

rmSync(out, { recursive: true, force: true });
renameSync(tmp, out);
console.log(`docs-build: ${out}: the reference, ${guides.length} guides`);
