/**
 * `describe component --provenance`: which file and line set each value. Positions come from the `yaml` package's
 * syntax tree (the fast loader keeps none), so this runs only when asked, over the files of one manifest.
 */
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { Document, isMap, isPair, isScalar, isSeq, LineCounter, type Node, parseDocument, type Scalar } from 'yaml';
import type { ComponentInstance } from '../data/instance.ts';
import { isPlainMap, type PlainMap } from '../data/merge.ts';
import type { RawComponent } from './components.ts';
import type { StackEngine, StackManifest } from './engine.ts';

export interface Origin {
  file: string;
  line: number;
  /** 1 = the stack manifest itself, 2+ = imported that many levels deep. */
  depth: number;
}

/** Dotted path -> line, for every key in one YAML file. */
function positions(path: string): Map<string, number> {
  const lineCounter = new LineCounter();
  const doc = parseDocument(readFileSync(path, 'utf8'), { lineCounter, uniqueKeys: false, strict: false });
  const out = new Map<string, number>();
  const walk = (node: unknown, prefix: string) => {
    if (isMap(node)) {
      for (const item of node.items) {
        if (!isPair(item)) continue;
        const key = isScalar(item.key) ? String(item.key.value) : String(item.key);
        const path = prefix ? `${prefix}.${key}` : key;
        const range = (item.key as Node | null)?.range;
        if (range) out.set(path, lineCounter.linePos(range[0]).line);
        walk(item.value, path);
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, index) => {
        const path = `${prefix}[${index}]`;
        const range = (item as Node | null)?.range;
        if (range) out.set(path, lineCounter.linePos(range[0]).line);
        walk(item, path);
      });
    }
  };
  walk(doc.contents, '');
  return out;
}

const LAYERED = new Set(['vars', 'settings', 'env', 'auth', 'providers', 'hooks', 'generate']);

/** For each leaf path of the component's sections, the file and line that set it last. */
export function componentProvenance(engine: StackEngine, instance: ComponentInstance): Map<string, Origin> {
  const origin = engine.origin(instance);
  if (!origin) return new Map();
  const { manifest, raw } = origin;
  const files = manifest.files.map((f) => ({ ...f, positions: positions(f.path) }));
  const stacksBase = engine.config.stacks.basePath;
  const find = (candidates: string[]): Origin | undefined => {
    // Highest precedence first: later layers, then later files.
    for (const candidate of candidates) {
      for (let i = files.length - 1; i >= 0; i--) {
        const line = files[i].positions.get(candidate);
        if (line !== undefined) return { file: relative(stacksBase, files[i].path), line, depth: files[i].depth + 1 };
      }
    }
    return undefined;
  };
  const out = new Map<string, Origin>();
  const visit = (value: unknown, path: string[]) => {
    if (isPlainMap(value) && Object.keys(value).length > 0) {
      for (const key of Object.keys(value)) visit(value[key], [...path, key]);
      return;
    }
    const [section, ...rest] = path;
    const tail = rest.length > 0 ? `.${rest.join('.')}` : '';
    const found = find(layerPaths(raw, section, tail));
    if (found) out.set(path.join('.'), found);
  };
  for (const section of Object.keys(instance.description)) {
    if (section === 'imports' || section === 'component_info' || section.startsWith('atmos_')) continue;
    visit(instance.description[section], [section]);
  }
  return out;
}

/** Where in a stack document a component value may come from, highest precedence first. */
function layerPaths(raw: RawComponent, section: string, tail: string): string[] {
  const own = `components.${raw.kind}.${raw.name}`;
  const paths = [
    `${own}.overrides.${section}${tail}`,
    `${raw.kind}.overrides.${section}${tail}`,
    `overrides.${section}${tail}`,
  ];
  // The described backend is one entry of the written `backend:` map (`backend.<backend_type>`), and the remote state
  // backend falls back to that same entry.
  const backendType = String(raw.section.backend_type ?? '');
  const remoteType = String(raw.section.remote_state_backend_type ?? '');
  const written =
    section === 'backend'
      ? [`backend.${backendType}`]
      : section === 'remote_state_backend'
        ? [`remote_state_backend.${remoteType}`, `backend.${remoteType}`]
        : [section];
  for (const name of written) paths.push(`${own}.${name}${tail}`);
  paths.push(`${own}.metadata${section === 'metadata' ? tail : '.__none__'}`);
  for (const base of raw.inheritance)
    for (const name of written) paths.push(`components.${raw.kind}.${base}.${name}${tail}`);
  if (LAYERED.has(section) || section.startsWith('backend') || section.startsWith('remote_state')) {
    for (const name of written) paths.push(`${raw.kind}.${name}${tail}`);
    if (LAYERED.has(section)) paths.push(`${section}${tail}`);
  }
  return paths;
}

/** YAML with `# file:line` after each value, in the style of Atmos's provenance output. */
export function renderWithProvenance(
  data: PlainMap,
  provenance: Map<string, Origin>,
  manifest: StackManifest | undefined,
): string {
  const doc = new Document(data);
  const annotate = (node: unknown, path: string[]) => {
    if (isMap(node)) {
      for (const item of node.items) {
        if (!isPair(item)) continue;
        const key = isScalar(item.key) ? String(item.key.value) : String(item.key);
        const childPath = [...path, key];
        if (isScalar(item.value)) {
          const origin = provenance.get(childPath.join('.'));
          if (origin)
            (item.value as Scalar).comment =
              ` ${origin.depth === 1 ? '●' : '○'} [${origin.depth}] ${origin.file}:${origin.line}`;
        } else annotate(item.value, childPath);
      }
    }
  };
  annotate(doc.contents, []);
  const legend = [
    '# Provenance Legend:',
    '#   ● [1] Defined in the stack manifest',
    '#   ○ [N] Inherited/imported (N=2+ levels deep)',
    '',
    manifest ? `# Stack: ${manifest.key}\n` : '',
  ].join('\n');
  return legend + doc.toString({ indent: 2, lineWidth: 0 });
}
