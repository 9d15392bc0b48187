import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

/**
 * The repository's import graph and the layer rules the architecture test holds it to. Paths are
 * repository-relative with forward slashes; an edge's `to` is a file for relative imports and the package
 * specifier for everything else.
 */
export interface ImportEdge {
  from: string;
  to: string;
}

/** Repository-relative `.ts` files under `dir`. */
export function sourceFiles(root: string, dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(path.join(root, dir))) {
    const rel = `${dir}/${name}`;
    if (statSync(path.join(root, rel)).isDirectory()) out.push(...sourceFiles(root, rel));
    else if (rel.endsWith('.ts')) out.push(rel);
  }
  return out;
}

/** Every module specifier a source text imports or re-exports, statically or dynamically. */
export function specifiersOf(source: string): string[] {
  return [
    ...source.matchAll(/(?:import|export)[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g),
  ].map((m) => m[1] ?? m[2]!);
}

/** The target of `spec` imported from `file`: a repository-relative `.ts` path, or the package name. */
export function resolveSpecifier(file: string, spec: string): string {
  if (!spec.startsWith('.')) return spec;
  return path.posix.normalize(path.posix.join(path.posix.dirname(file), spec)).replace(/\.js$/, '.ts');
}

/** The import edges of the given files, read from disk. */
export function importEdges(root: string, files: readonly string[]): ImportEdge[] {
  return files.flatMap((from) =>
    specifiersOf(readFileSync(path.join(root, from), 'utf8')).map((spec) => ({
      from,
      to: resolveSpecifier(from, spec),
    })),
  );
}

const pair = (edge: ImportEdge) => `${edge.from} -> ${edge.to}`;

/** True when `file` is `unit` (a file) or lies under it (a folder). */
export const within = (file: string, unit: string) => file === unit || file.startsWith(`${unit}/`);

/**
 * Layers from the innermost up; each is a list of folders or files. A file may import its own layer and
 * the ones below it. Returns the offending pairs: an import of a higher layer, and any file of the
 * checked folders that belongs to no layer (so a new folder is placed deliberately).
 */
export function layerViolations(
  edges: readonly ImportEdge[],
  layers: readonly (readonly string[])[],
): string[] {
  const levelOf = (file: string) => layers.findIndex((layer) => layer.some((unit) => within(file, unit)));
  const found = new Set<string>();
  for (const edge of edges) {
    const from = levelOf(edge.from);
    if (from < 0) {
      found.add(`${edge.from} belongs to no layer`);
      continue;
    }
    const to = levelOf(edge.to);
    if (to > from) found.add(pair(edge));
  }
  return [...found];
}

/** Pairs where a file under one of `from` imports something `forbidden` matches (a target path or package). */
export function forbiddenImports(
  edges: readonly ImportEdge[],
  from: readonly string[],
  forbidden: (target: string) => boolean,
): string[] {
  return edges.filter((edge) => from.some((unit) => within(edge.from, unit)) && forbidden(edge.to)).map(pair);
}

/** Each import cycle among the files, once, as `a -> b -> … -> a` (package imports are not followed). */
export function importCycles(edges: readonly ImportEdge[]): string[] {
  const next = new Map<string, string[]>();
  for (const { from, to } of edges) {
    if (!to.endsWith('.ts')) continue;
    next.set(from, [...(next.get(from) ?? []), to]);
  }
  const cycles = new Set<string>();
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (file: string) => {
    state.set(file, 'open');
    stack.push(file);
    for (const target of next.get(file) ?? []) {
      if (state.get(target) === 'open') {
        const loop = stack.slice(stack.indexOf(target));
        // Rotated to start at its smallest file, so one cycle reads the same from wherever it was found.
        const start = loop.indexOf([...loop].sort()[0]!);
        const rotated = [...loop.slice(start), ...loop.slice(0, start)];
        cycles.add([...rotated, rotated[0]].join(' -> '));
      } else if (!state.has(target)) visit(target);
    }
    stack.pop();
    state.set(file, 'done');
  };
  for (const file of [...next.keys()].sort()) if (!state.has(file)) visit(file);
  return [...cycles];
}
