// docs.js: starts Redoc on the document named by #redoc's data-spec-url
// (/openapi.json). A separate file because the page's Content-Security-
// Policy allows no inline script. Written for the browsers Redoc supports;
// no build step.
(function () {
    'use strict';
    var element = document.getElementById('redoc');
    var url = element.getAttribute('data-spec-url');

    function fail(message) {
        element.textContent = '';
        var p = document.createElement('p');
        p.className = 'sb-error';
        p.textContent = message;
        element.appendChild(p);
    }

    if (typeof window.Redoc === 'undefined') {
        fail('The Redoc bundle did not load (/docs/assets/redoc.standalone.js).');
        return;
    }
    // The bar above Redoc is not fixed, so no scrollYOffset. No Google
    // fonts: the CSP allows none and the theme falls back to system fonts.
    window.Redoc.init(url, {
        expandResponses: '200,201',
        hideDownloadButton: false,
        jsonSampleExpandLevel: 3,
        pathInMiddlePanel: true,
        sortPropsAlphabetically: false,
        theme: {
            typography: {
                fontFamily: 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif',
                headings: { fontFamily: 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif' },
                code: { fontFamily: 'ui-monospace, "DejaVu Sans Mono", Menlo, monospace' }
            }
        }
    }, element, function (error) {
        if (error)
            fail('The API reference could not be rendered from ' + url + ': ' +
                 (error.message || error));
    });
})();
