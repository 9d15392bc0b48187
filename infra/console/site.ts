import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where the console is served on the API's own origin (local mode and CloudFront alike). */
export const CONSOLE_BASE_PATH = '/console/';

export const CONSOLE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../console');

/**
 * The console pages' Content-Security-Policy: everything from the page's own origin, no inline script or
 * style, no plugins, no framing, forms and <base> pinned. The QR code is inline SVG in the DOM (no image
 * URL); downloads are Blob URLs opened by a link, which the policy does not restrict.
 */
export const CONSOLE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** Headers of every console file: the local server sends them, CloudFront's response-headers policy too. */
export const CONSOLE_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy': CONSOLE_CSP,
  'Strict-Transport-Security': 'max-age=31536000; includeSubDomains; preload',
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Permissions-Policy': 'accelerometer=(), camera=(), geolocation=(), microphone=(), payment=(), usb=()',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

/** Builds the console with Vite into `outDir` (a fresh directory per local run or test, so runs never race). */
export async function buildConsole(outDir: string): Promise<void> {
  const { build } = await import('vite');
  await build({
    configFile: path.join(CONSOLE_ROOT, 'vite.config.ts'),
    logLevel: 'warn',
    build: { outDir, emptyOutDir: true },
  });
}
