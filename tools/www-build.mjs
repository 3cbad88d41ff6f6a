#!/usr/bin/env node
// tools/www-build.mjs OUT — builds the customer dashboard (gateway/www/)
// into the directory OUT, replacing it; the gateway serves OUT
// (gateway/src/gw_static.c: the directory `www` beside its share/docs):
//
//   OUT/index.html           gateway/www/index.html: GET /, /app, /app/,
//                            /app/<any path> (the single-page app)
//   OUT/assets/<name>        gateway/www/*.js and *.css: GET /app/assets/<name>
//   OUT/**/<file>.gz         gzip'd copies of the text files of 1 KiB or more
//
// No bundler: the sources are plain modern JavaScript modules, which the
// browser loads as they are (app.js imports ./api.js, both under
// /app/assets/). `make docs` runs this beside tools/docs-build.mjs.
// A source name must be [a-z0-9-].(js|css) (what the gateway serves);
// index.html must have no inline script or style (the app's CSP would
// refuse them). Exits 1 with a message when a rule is broken.

import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync,
         writeFileSync, copyFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const out = process.argv[2];
if (!out) {
    console.error('usage: tools/www-build.mjs OUT');
    process.exit(2);
}
const src = join(root, 'gateway/www');

function die(message) {
    console.error(`www-build: ${message}`);
    process.exit(1);
}

const page = join(src, 'index.html');
if (!existsSync(page))
    die(`no ${page}`);
const html = readFileSync(page, 'utf8');
if (/<script(?![^>]*\ssrc=)[^>]*>/i.test(html) || /<style[\s>]/i.test(html)
    || /\sstyle=/i.test(html) || /\son[a-z]+=/i.test(html))
    die(`${page}: inline script, style or event handler (the CSP refuses them)`);

const tmp = `${out}.tmp`;
rmSync(tmp, { recursive: true, force: true });
mkdirSync(join(tmp, 'assets'), { recursive: true });
copyFileSync(page, join(tmp, 'index.html'));
let count = 0;
for (const file of readdirSync(src).sort()) {
    if (file === 'index.html' || file.startsWith('.'))
        continue;
    if (!/^[a-z0-9][a-z0-9-]*\.(js|css)$/.test(file))
        die(`${src}/${file}: a source is [a-z0-9-].js or .css`);
    copyFileSync(join(src, file), join(tmp, 'assets', file));
    count++;
}

for (const sub of ['', 'assets'])
    for (const file of readdirSync(join(tmp, sub))) {
        const path = join(tmp, sub, file);
        if (!/\.(html|js|css)$/.test(file))
            continue;
        const data = readFileSync(path);
        if (data.length >= 1024)
            writeFileSync(`${path}.gz`, gzipSync(data, { level: 9 }));
    }

rmSync(out, { recursive: true, force: true });
renameSync(tmp, out);
console.log(`www-build: ${out}: the dashboard, ${count} assets`);
