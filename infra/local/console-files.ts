import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { CONSOLE_BASE_PATH, CONSOLE_SECURITY_HEADERS } from '../console/site.js';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.json': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
};

/**
 * Serves the built console under /console/ the way the CloudFront distribution does: GET and HEAD only,
 * files from the build directory and nothing outside it, index.html for /console/, the console's security
 * headers on every answer. Answers false when the path is not the console's.
 */
export function consoleFileServer(distDir: string) {
  const root = path.resolve(distDir);
  return async (request: IncomingMessage, response: ServerResponse, pathname: string): Promise<boolean> => {
    if (pathname === '/console') {
      response.writeHead(308, { ...CONSOLE_SECURITY_HEADERS, Location: CONSOLE_BASE_PATH });
      response.end();
      return true;
    }
    if (!pathname.startsWith(CONSOLE_BASE_PATH)) return false;
    const method = request.method ?? 'GET';
    const send = (status: number, headers: Record<string, string>, body?: Buffer | string) => {
      response.writeHead(status, { ...CONSOLE_SECURITY_HEADERS, ...headers });
      response.end(method === 'HEAD' ? undefined : body);
    };
    if (method !== 'GET' && method !== 'HEAD') {
      send(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain; charset=utf-8' }, 'Method Not Allowed\n');
      return true;
    }
    let relative: string;
    try {
      relative = decodeURIComponent(pathname.slice(CONSOLE_BASE_PATH.length)) || 'index.html';
    } catch {
      send(400, { 'Content-Type': 'text/plain; charset=utf-8' }, 'Bad Request\n');
      return true;
    }
    const file = path.resolve(root, relative);
    if (!file.startsWith(`${root}${path.sep}`) || relative.includes('\0')) {
      send(404, { 'Content-Type': 'text/plain; charset=utf-8' }, 'Not Found\n');
      return true;
    }
    const body = await readFile(file).catch(() => undefined);
    if (!body) {
      send(404, { 'Content-Type': 'text/plain; charset=utf-8' }, 'Not Found\n');
      return true;
    }
    // Hashed assets never change; the page itself is always revalidated so a new build is picked up.
    const immutable = relative.startsWith('assets/');
    send(
      200,
      {
        'Content-Type': TYPES[path.extname(file)] ?? 'application/octet-stream',
        'Cache-Control': immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
      },
      body,
    );
    return true;
  };
}
