/**
 * SOPS documents: YAML or JSON parsed into YAML trees (key order and comments kept), walked leaf by leaf in the
 * order sops hashes them, and written back out in either format.
 */
import type { Document, Node, Scalar } from 'yaml';
import { StrataError } from '../errors.ts';
import { yaml } from '../util/yaml-lib.ts';
import { goFormatFloat, type Leaf, type SopsFormat } from './sops-values.ts';

type Walk = (args: { value: Leaf; path: string[]; scalar: Scalar }) => void;
type CommentWalk = (args: { text: string; path: string[]; fallbackPaths: string[][] }) => string;

/** Parses YAML or JSON into YAML documents; JSON is YAML, and this keeps key order and comments. */
export function parseDocuments(text: string, file: string): Document[] {
  const { parseAllDocuments, isMap } = yaml();
  const docs = parseAllDocuments(text, { intAsBigInt: true, uniqueKeys: false });
  if (!Array.isArray(docs)) return [];
  for (const doc of docs) {
    const error = doc.errors[0];
    if (error) {
      const line = error.linePos?.[0];
      throw new StrataError(`cannot parse ${file}: ${error.message.split('\n')[0]}`, {
        location: { file, line: line?.line, col: line?.col },
      });
    }
    expandAliases(doc);
    if (doc.contents !== null && !isMap(doc.contents)) {
      throw new StrataError(`${file}: the top level must be a map of keys (sops cannot encrypt a bare list or value)`, {
        location: { file },
      });
    }
  }
  return docs;
}

/** sops resolves aliases into copies, so values behind an alias are encrypted (and hashed) where they appear. */
function expandAliases(doc: Document): void {
  const { visit, Scalar, isScalar, isCollection } = yaml();
  visit(doc, {
    Alias(_key, node) {
      const target = node.resolve(doc);
      return target ? (target.clone() as Node) : new Scalar(null);
    },
  });
  visit(doc, {
    Node(_key, node) {
      if (isScalar(node) || isCollection(node)) node.anchor = undefined;
    },
  });
}

function keyName(key: unknown, file: string): string {
  const value = yaml().isScalar(key) ? key.value : key;
  if (value === null || typeof value === 'object') {
    throw new StrataError(`${file}: only scalar map keys are supported by sops`, { location: { file } });
  }
  return String(value);
}

/**
 * Visits leaves and comments in document order, as sops walks its tree. Leaves get the path of map keys; comments
 * get the path of the collection around them (and, for decryption, the paths of the outer collections to try).
 */
export function walkDocument(doc: Document, file: string, onLeaf: Walk, onComment?: CommentWalk): void {
  const { isMap, isScalar, isSeq } = yaml();
  const comments = (node: { commentBefore?: string | null; comment?: string | null }, paths: string[][]) => {
    if (!onComment) return;
    const [path, ...fallbackPaths] = paths;
    const map = (text: string | null | undefined) =>
      text
        ? text
            .split('\n')
            .map((line) => (line === '' ? line : onComment({ text: line, path, fallbackPaths })))
            .join('\n')
        : text;
    if (node.commentBefore) node.commentBefore = map(node.commentBefore);
    if (node.comment) node.comment = map(node.comment);
  };
  // `paths` lists the current collection's path, then its ancestors' (innermost first).
  const walk = (node: unknown, path: string[], paths: string[][]): void => {
    if (node === null || node === undefined) return;
    if (isMap(node)) {
      const own = [path, ...paths];
      comments(node, own);
      for (const pair of node.items) {
        if (isScalar(pair.key)) comments(pair.key, own);
        const childPath = [...path, keyName(pair.key, file)];
        if (isScalar(pair.value)) comments(pair.value, own);
        walk(pair.value, childPath, own);
      }
      return;
    }
    if (isSeq(node)) {
      const own = [path, ...paths];
      comments(node, own);
      for (const item of node.items) {
        if (isScalar(item)) comments(item, own);
        walk(item, path, own);
      }
      return;
    }
    if (isScalar(node)) {
      if (node.value === null || node.value === undefined) return;
      const value = node.value as Leaf;
      if (typeof value === 'object' && !Buffer.isBuffer(value)) return;
      onLeaf({ value, path, scalar: node });
    }
  };
  comments(doc, [[]]);
  walk(doc.contents, [], []);
}

/** JSON text from the YAML tree, keeping key order (JSON.stringify would move integer-like keys first). */
function toJsonText(node: unknown, indent = ''): string {
  const { isMap, isScalar, isSeq } = yaml();
  const inner = `${indent}  `;
  if (isMap(node)) {
    if (node.items.length === 0) return '{}';
    const items = node.items.map(
      (p) => `${inner}${JSON.stringify(keyName(p.key, 'json'))}: ${toJsonText(p.value, inner)}`,
    );
    return `{\n${items.join(',\n')}\n${indent}}`;
  }
  if (isSeq(node)) {
    if (node.items.length === 0) return '[]';
    return `[\n${node.items.map((i) => `${inner}${toJsonText(i, inner)}`).join(',\n')}\n${indent}]`;
  }
  const value = isScalar(node) ? node.value : node;
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : JSON.stringify(goFormatFloat(value));
  if (Buffer.isBuffer(value)) return JSON.stringify(value.toString('utf8'));
  return JSON.stringify(value);
}

export function render(docs: Document[], format: SopsFormat): string {
  if (format === 'json') return `${toJsonText(docs[0]?.contents ?? new (yaml().YAMLMap)())}\n`;
  return docs
    .map((doc, i) => {
      const text = doc.toString({ lineWidth: 0 });
      return i > 0 && !text.startsWith('---') ? `---\n${text}` : text;
    })
    .join('');
}

export function toData(doc: Document | undefined): unknown {
  return doc ? normalise(doc.toJS({ maxAliasCount: -1 })) : {};
}

/** Plain data for callers: integers become numbers, bytes become strings. */
function normalise(value: unknown): unknown {
  // As yaml.parse would give them: integers past 2^53 lose precision there too.
  if (typeof value === 'bigint') return Number(value);
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  if (Array.isArray(value)) return value.map(normalise);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, normalise(v)]));
  }
  return value;
}
