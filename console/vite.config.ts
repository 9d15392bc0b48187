import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = path.dirname(fileURLToPath(import.meta.url));

/**
 * The console is served by the API's own origin under /console/ (local mode and CloudFront alike), so it
 * needs no CORS and its strict CSP can say `'self'` for everything. The build must stay CSP-clean: no inline
 * script (the module-preload polyfill would be one) and no inline style.
 */
export default defineConfig({
  root: here,
  base: '/console/',
  publicDir: path.join(here, 'public'),
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: path.join(here, 'dist'),
    emptyOutDir: true,
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    sourcemap: false,
    target: 'es2022',
    reportCompressedSize: false,
  },
});
