import { parse } from 'acorn';

/** An acorn node, as far as this walk needs it. */
interface Node {
  type: string;
  [key: string]: unknown;
}

const isNode = (value: unknown): value is Node =>
  typeof value === 'object' && value !== null && typeof (value as Node).type === 'string';

/** Every node of the tree, from a stack of its own rather than recursion (a bundle's tree runs deep). */
function* nodes(root: Node): Generator<Node> {
  const stack: Node[] = [root];
  for (let node = stack.pop(); node; node = stack.pop()) {
    yield node;
    for (const key in node) {
      const value = node[key];
      if (typeof value !== 'object' || value === null) continue;
      if (Array.isArray(value)) {
        for (const item of value) if (isNode(item)) stack.push(item);
      } else if (isNode(value)) stack.push(value);
    }
  }
}

/** The names a binding pattern binds or assigns: `a`, `[a, ...b]`, `{ k: a = 1, ...c }`. */
function patternNames(pattern: Node | null | undefined, into: string[] = []): string[] {
  if (!pattern) return into;
  switch (pattern.type) {
    case 'Identifier':
      into.push(pattern.name as string);
      break;
    case 'ArrayPattern':
      for (const element of pattern.elements as (Node | null)[]) patternNames(element, into);
      break;
    case 'ObjectPattern':
      for (const property of pattern.properties as Node[])
        patternNames((property.type === 'RestElement' ? property.argument : property.value) as Node, into);
      break;
    case 'AssignmentPattern':
      patternNames(pattern.left as Node, into);
      break;
    case 'RestElement':
      patternNames(pattern.argument as Node, into);
      break;
    // A member expression (`o.k = v`) assigns no binding.
  }
  return into;
}

/**
 * The names an ES module (one of esbuild's split chunks) exports whose value cannot change once the module
 * has been evaluated, so a copy taken then is the binding's value for good: each is declared once, at the
 * module's top level (`const`, `let`, `var`, `function`, `class`), and nothing in the module assigns it.
 *
 * Conservative by name: an assignment to a same-named variable anywhere (a nested one that shadows it, say)
 * or a second declaration of the name anywhere counts against it, and so do an export of an imported binding
 * and any direct `eval`. What is left out is still exported live; what is kept in can only be read. Every
 * name returned is an identifier name, though it may be a keyword (`if`, `default`): not a binding's name.
 */
export function fixedExports(code: string): Set<string> {
  const program = parse(code, { ecmaVersion: 'latest', sourceType: 'module' }) as unknown as Node;
  const topLevel = new Set<string>();
  const imported = new Set<string>();
  const declarations = new Map<string, number>();
  const assigned = new Set<string>();
  const exported = new Map<string, string>();
  let evaluates = false;

  const declareTopLevel = (statement: Node) => {
    if (statement.type === 'VariableDeclaration')
      for (const declarator of statement.declarations as Node[])
        for (const name of patternNames(declarator.id as Node)) topLevel.add(name);
    if ((statement.type === 'FunctionDeclaration' || statement.type === 'ClassDeclaration') && statement.id)
      topLevel.add((statement.id as Node).name as string);
  };
  for (const statement of program.body as Node[]) {
    declareTopLevel(statement);
    if (statement.type === 'ImportDeclaration')
      for (const specifier of statement.specifiers as Node[])
        imported.add((specifier.local as Node).name as string);
    if (statement.type === 'ExportNamedDeclaration') {
      const declaration = statement.declaration as Node | null;
      if (declaration) {
        declareTopLevel(declaration);
        const names =
          declaration.type === 'VariableDeclaration'
            ? (declaration.declarations as Node[]).flatMap((d) => patternNames(d.id as Node))
            : [(declaration.id as Node).name as string];
        for (const name of names) exported.set(name, name);
      } else if (!statement.source) {
        for (const specifier of statement.specifiers as Node[]) {
          const local = specifier.local as Node;
          const name = specifier.exported as Node;
          // A string name (`export { a as "b-c" }`) stays live: the merge writes fixed names as identifiers.
          if (local.type === 'Identifier' && name.type === 'Identifier')
            exported.set(name.name as string, local.name as string);
        }
      }
    }
  }

  for (const node of nodes(program)) {
    switch (node.type) {
      case 'VariableDeclarator':
        for (const name of patternNames(node.id as Node))
          declarations.set(name, (declarations.get(name) ?? 0) + 1);
        break;
      case 'FunctionDeclaration':
      case 'ClassDeclaration':
        if (node.id) {
          const name = (node.id as Node).name as string;
          declarations.set(name, (declarations.get(name) ?? 0) + 1);
        }
        break;
      case 'AssignmentExpression':
        for (const name of patternNames(node.left as Node)) assigned.add(name);
        break;
      case 'UpdateExpression':
        for (const name of patternNames(node.argument as Node)) assigned.add(name);
        break;
      case 'ForInStatement':
      case 'ForOfStatement':
        if ((node.left as Node).type !== 'VariableDeclaration')
          for (const name of patternNames(node.left as Node)) assigned.add(name);
        break;
      case 'CallExpression': {
        const callee = node.callee as Node;
        if (callee.type === 'Identifier' && callee.name === 'eval') evaluates = true;
        break;
      }
    }
  }
  if (evaluates) return new Set();

  const fixed = new Set<string>();
  for (const [name, local] of exported)
    if (topLevel.has(local) && !imported.has(local) && !assigned.has(local) && declarations.get(local) === 1)
      fixed.add(name);
  return fixed;
}
