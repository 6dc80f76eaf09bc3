// Checks the import boundaries of lib/ (DESIGN.md §2, STYLE.md §1) and prints each violation as
// file:line. Usage: node scripts/check-imports.mjs [dir], where dir defaults to this repo's lib/.
// Exits 1 when anything is wrong, 0 otherwise.
//
// Rules:
// - each top-level folder imports only the folders DESIGN.md §2 lists for it; files directly in
//   lib/ (index.ts, cli.ts) may import any folder;
// - another folder is reached through an index.ts, or its core.ts (the part of it that runs
//   anywhere: no node:* module, no Buffer), never an inner file (STYLE.md §1);
// - protocol/ and util/ import no node:http2, node:net or node:tls (nothing in protocol knows
//   HTTP/2 exists), and only proto/ imports protobufjs;
// - web/ (the browser client) imports no node:* module, directly or through what it imports at
//   run time, and reaches client/ and protocol/ only through their core.ts;
// - there is no import cycle between files (like `madge --circular`). Type-only imports are
//   erased by the compiler, so they count for the folder rules but not for cycles;
// - a re-export of a name tagged @internal where it is declared (or re-exported under @internal by
//   an inner index.ts) sits in a re-export statement that is itself tagged @internal. The build's
//   stripInternal drops @internal declarations from the .d.ts files but keeps a plain
//   `export { x } from` naming them, and a consumer with skipLibCheck off then fails on the
//   published types. So an inner index.ts stays the barrel lib/ imports through, and its
//   internal names live in `/** @internal */ export { ... } from` statements the .d.ts omits.
import { readdirSync, readFileSync, statSync, existsSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

/** DESIGN.md §2: the folders each folder may import. */
const ALLOWED = {
  util: [],
  protocol: ['util'],
  transport: ['protocol', 'util'],
  server: ['transport', 'protocol', 'util'],
  client: ['transport', 'protocol', 'util'],
  interceptors: ['server', 'client', 'protocol', 'util'],
  opentelemetry: ['server', 'client', 'protocol', 'util'],
  proto: ['protocol', 'util'],
  services: ['proto', 'server', 'client', 'protocol', 'util'],
  web: ['client', 'protocol', 'util'],
};

/** The folders web/ reaches through core.ts, not index.ts (whose graph pulls node:* modules). */
const CORE_ONLY_FOR_WEB = new Set(['client', 'protocol']);
const ENTRY = /^(?:index|core)\.(?:ts|mts|cts)$/;

/** Node modules that mean I/O on a socket, kept out of the pure layers. */
const SOCKET_MODULES = new Set(['http2', 'net', 'tls']);
const SOURCE = /\.(?:ts|mts|cts)$/;
const DECLARATION = /\.d\.(?:ts|mts|cts)$/;

function collect(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...collect(path));
    else if (SOURCE.test(name) && !DECLARATION.test(name)) out.push(path);
  }
  return out;
}

/** Every module specifier in a file, with its line and whether it is erased at compile time. */
function importsOf(file) {
  const text = readFileSync(file, 'utf8');
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const found = [];
  const add = (literal, typeOnly) => {
    const line = source.getLineAndCharacterOfPosition(literal.getStart(source)).line + 1;
    found.push({ specifier: literal.text, line, typeOnly });
  };
  const visit = (node) => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const clause = node.importClause;
      const typeOnly =
        clause !== undefined &&
        (clause.isTypeOnly ||
          (clause.name === undefined &&
            clause.namedBindings !== undefined &&
            ts.isNamedImports(clause.namedBindings) &&
            clause.namedBindings.elements.length > 0 &&
            clause.namedBindings.elements.every((e) => e.isTypeOnly)));
      add(node.moduleSpecifier, typeOnly);
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier !== undefined && ts.isStringLiteral(node.moduleSpecifier)) {
      const typeOnly =
        node.isTypeOnly ||
        (node.exportClause !== undefined &&
          ts.isNamedExports(node.exportClause) &&
          node.exportClause.elements.length > 0 &&
          node.exportClause.elements.every((e) => e.isTypeOnly));
      add(node.moduleSpecifier, typeOnly);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const [arg] = node.arguments;
      if (arg !== undefined && ts.isStringLiteralLike(arg)) add(arg, false);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
      add(node.argument.literal, true);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** The file a relative specifier names: `./a.js` is written for `./a.ts` (NodeNext). */
function resolveRelative(from, specifier) {
  const base = resolve(dirname(from), specifier);
  const candidates = [base, base.replace(/\.js$/, '.ts'), base.replace(/\.mjs$/, '.mts'), base.replace(/\.cjs$/, '.cts'), `${base}.ts`, join(base, 'index.ts')];
  for (const candidate of candidates) if (existsSync(candidate) && statSync(candidate).isFile()) return candidate;
  return undefined;
}

/** Whether a node carries @internal in a leading comment, the test stripInternal applies. */
function isInternal(node, source) {
  const ranges = ts.getLeadingCommentRanges(source.text, node.getFullStart()) ?? [];
  return ranges.some((r) => source.text.slice(r.pos, r.end).includes('@internal'));
}

const parsed = new Map();
function parse(file) {
  let source = parsed.get(file);
  if (source === undefined) {
    source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
    parsed.set(file, source);
  }
  return source;
}

/** The names a statement declares at the top level of its module. */
function declaredNames(statement) {
  if (ts.isVariableStatement(statement)) {
    return statement.declarationList.declarations.flatMap((d) => (ts.isIdentifier(d.name) ? [d.name.text] : []));
  }
  const name = statement.name;
  return name !== undefined && ts.isIdentifier(name) ? [name.text] : [];
}

/**
 * Whether `name`, as exported by `file`, is missing from the .d.ts that stripInternal emits:
 * its declaration is tagged @internal, or `file` re-exports it in an @internal statement, or
 * re-exports it plainly from a file where it is internal.
 */
function exportIsInternal(file, name, seen = new Set()) {
  const key = `${file}#${name}`;
  if (seen.has(key)) return false;
  seen.add(key);
  const source = parse(file);
  for (const statement of source.statements) {
    if (ts.isExportDeclaration(statement)) {
      if (statement.exportClause === undefined || !ts.isNamedExports(statement.exportClause)) continue;
      for (const element of statement.exportClause.elements) {
        if (element.name.text !== name) continue;
        if (isInternal(statement, source)) return true;
        if (statement.moduleSpecifier === undefined || !ts.isStringLiteral(statement.moduleSpecifier)) return false;
        const target = resolveRelative(file, statement.moduleSpecifier.text);
        return target !== undefined && exportIsInternal(target, (element.propertyName ?? element.name).text, seen);
      }
    } else if (declaredNames(statement).includes(name)) {
      return isInternal(statement, source);
    }
  }
  return false;
}

/** Plain re-exports (`export { a } from './x.js'`) of names that are @internal where they come from. */
function strippedReExports(file) {
  const source = parse(file);
  const found = [];
  for (const statement of source.statements) {
    if (!ts.isExportDeclaration(statement) || isInternal(statement, source)) continue;
    if (statement.moduleSpecifier === undefined || !ts.isStringLiteral(statement.moduleSpecifier)) continue;
    if (statement.exportClause === undefined || !ts.isNamedExports(statement.exportClause)) continue;
    const target = resolveRelative(file, statement.moduleSpecifier.text);
    if (target === undefined) continue;
    for (const element of statement.exportClause.elements) {
      const name = (element.propertyName ?? element.name).text;
      if (!exportIsInternal(target, name)) continue;
      const line = source.getLineAndCharacterOfPosition(element.getStart(source)).line + 1;
      found.push({ name, specifier: statement.moduleSpecifier.text, line });
    }
  }
  return found;
}

/** The top-level folder of a file inside root, or '' for a file directly in root. */
function folderOf(root, file) {
  const parts = relative(root, file).split(sep);
  return parts.length > 1 ? parts[0] : '';
}

/** Tarjan's strongly connected components; a component of two or more files is a cycle. */
function cyclesOf(graph) {
  let index = 0;
  const indices = new Map();
  const low = new Map();
  const stack = [];
  const onStack = new Set();
  const components = [];
  const strongConnect = (v) => {
    indices.set(v, index);
    low.set(v, index);
    index++;
    stack.push(v);
    onStack.add(v);
    for (const { to } of graph.get(v) ?? []) {
      if (!indices.has(to)) {
        strongConnect(to);
        low.set(v, Math.min(low.get(v), low.get(to)));
      } else if (onStack.has(to)) {
        low.set(v, Math.min(low.get(v), indices.get(to)));
      }
    }
    if (low.get(v) === indices.get(v)) {
      const component = [];
      let w;
      do {
        w = stack.pop();
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      const selfLoop = (graph.get(v) ?? []).some((e) => e.to === v);
      if (component.length > 1 || selfLoop) components.push(new Set(component));
    }
  };
  for (const v of graph.keys()) if (!indices.has(v)) strongConnect(v);
  // One concrete loop per component, found breadth-first from its first file, for the message.
  return components.map((component) => {
    const start = [...component].sort()[0];
    const previous = new Map();
    const queue = [start];
    while (queue.length > 0) {
      const v = queue.shift();
      for (const edge of graph.get(v) ?? []) {
        if (!component.has(edge.to) || previous.has(edge.to)) continue;
        previous.set(edge.to, { from: v, line: edge.line });
        if (edge.to === start) queue.length = 0;
        else queue.push(edge.to);
      }
    }
    const steps = [];
    let at = start;
    do {
      const step = previous.get(at);
      steps.unshift({ file: step.from, line: step.line });
      at = step.from;
    } while (at !== start);
    return steps;
  });
}

/**
 * The node:* modules web/ reaches at run time through files of other folders (its own direct
 * imports are reported where they are), each reported once at the web/ file it is reached from,
 * with the chain of imports that leads there.
 */
function webNodeImports(root, files, graph, nodeImports) {
  const found = [];
  const reported = new Set();
  for (const start of files) {
    if (folderOf(root, start) !== 'web') continue;
    // Breadth-first over run-time edges, remembering how each file was reached.
    const previous = new Map([[start, undefined]]);
    const queue = [start];
    while (queue.length > 0) {
      const at = queue.shift();
      if (folderOf(root, at) !== 'web') {
        for (const { specifier, line } of nodeImports.get(at) ?? []) {
          const key = `${at}#${specifier}`;
          if (reported.has(key)) continue;
          reported.add(key);
          const chain = [`${relative(process.cwd(), at)}:${line}`];
          for (let step = previous.get(at); step !== undefined; step = previous.get(step.from)) chain.unshift(`${relative(process.cwd(), step.from)}:${step.line}`);
          found.push({ file: start, line: previous.get(firstHop(previous, at)).line, message: `web/ may not reach "${specifier}" at run time: ${chain.join(' -> ')} -> ${specifier}` });
        }
      }
      for (const edge of graph.get(at) ?? []) {
        if (previous.has(edge.to)) continue;
        previous.set(edge.to, { from: at, line: edge.line });
        queue.push(edge.to);
      }
    }
  }
  return found;
}

/** The file right after the start on the path `previous` records to `file`. */
function firstHop(previous, file) {
  let at = file;
  for (let step = previous.get(at); step !== undefined && previous.get(step.from) !== undefined; step = previous.get(step.from)) at = step.from;
  return at;
}

/**
 * Checks every source file under root.
 * @returns the violations, each `{ file, line, message }`
 */
export function checkImports(root) {
  const violations = [];
  const graph = new Map();
  // Each file's node:* imports that stay at run time, for the web/ reachability rule.
  const nodeImports = new Map();
  const files = collect(root);
  for (const file of files) {
    const folder = folderOf(root, file);
    const edges = [];
    graph.set(file, edges);
    const nodes = [];
    nodeImports.set(file, nodes);
    for (const { specifier, line, typeOnly } of importsOf(file)) {
      const report = (message) => violations.push({ file, line, message });
      if (!specifier.startsWith('.')) {
        const name = specifier.replace(/^node:/, '');
        const isNode = specifier.startsWith('node:');
        if (isNode && !typeOnly) nodes.push({ specifier, line });
        if ((folder === 'protocol' || folder === 'util') && SOCKET_MODULES.has(name.split('/')[0])) {
          report(`${folder}/ may not import "${specifier}": it does no I/O (DESIGN.md §2)`);
        }
        if (folder === 'web' && isNode) report(`web/ may not import "${specifier}": the browser client imports no node:* module`);
        if (folder !== 'proto' && (specifier === 'protobufjs' || specifier.startsWith('protobufjs/'))) {
          report(`${folder === '' ? relative(root, file) : `${folder}/`} may not import "${specifier}": proto/ is its only importer`);
        }
        continue;
      }
      const target = resolveRelative(file, specifier);
      if (target === undefined) {
        report(`Cannot resolve "${specifier}": no such file`);
        continue;
      }
      const inside = !relative(root, target).startsWith('..');
      if (inside && !typeOnly) edges.push({ to: target, line });
      if (!inside) continue;
      const targetFolder = folderOf(root, target);
      if (targetFolder === folder) continue;
      if (folder !== '') {
        const allowed = ALLOWED[folder];
        if (allowed === undefined) {
          report(`${folder}/ is not a folder DESIGN.md §2 lists, so it may import nothing inside lib`);
          continue;
        }
        if (targetFolder === '' || !allowed.includes(targetFolder)) {
          const what = targetFolder === '' ? relative(root, target) : `${targetFolder}/`;
          report(`${folder}/ may not import ${what} ("${specifier}"); it may import ${allowed.length === 0 ? 'external packages only' : allowed.map((f) => `${f}/`).join(', ')}`);
          continue;
        }
      }
      const base = target.slice(dirname(target).length + 1);
      if (folder === 'web' && CORE_ONLY_FOR_WEB.has(targetFolder) && !/^core\.(?:ts|mts|cts)$/.test(base)) {
        report(`web/ reaches ${targetFolder}/ through "${specifier}"; import its core.js, the part that imports no node:* module`);
      } else if (!ENTRY.test(base)) {
        report(`"${specifier}" reaches into ${targetFolder}/; import its index.js (or core.js) instead (STYLE.md §1)`);
      }
    }
    for (const { name, specifier, line } of strippedReExports(file)) {
      violations.push({
        file,
        line,
        message: `${name} is @internal in "${specifier}" but re-exported plainly; move it to a /** @internal */ export statement, or stripInternal leaves the .d.ts naming a missing export`,
      });
    }
  }
  for (const v of webNodeImports(root, files, graph, nodeImports)) violations.push(v);
  for (const cycle of cyclesOf(graph)) {
    const path = cycle.map((s) => `${relative(process.cwd(), s.file)}:${s.line}`).join(' -> ');
    violations.push({ file: cycle[0].file, line: cycle[0].line, message: `import cycle: ${path} -> ${relative(process.cwd(), cycle[0].file)}` });
  }
  return { files: files.length, violations };
}

const isMain = process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  const root = resolve(process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), '..', 'lib'));
  if (!existsSync(root) || !statSync(root).isDirectory()) {
    console.error(`check-imports: Cannot check "${root}": not a directory`);
    process.exit(2);
  }
  const { files, violations } = checkImports(root);
  for (const v of violations) console.error(`${relative(process.cwd(), v.file)}:${v.line}: ${v.message}`);
  if (violations.length > 0) {
    console.error(`check-imports: ${violations.length} violation${violations.length === 1 ? '' : 's'} in ${files} files`);
    process.exit(1);
  }
  console.log(`check-imports: ${files} files, no violations`);
}
