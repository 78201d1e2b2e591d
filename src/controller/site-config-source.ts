/**
 * Node specs from an iac-driver site-config folder (seed 001): `specs/<identity>.yaml`, the posture named by the
 * spec's `access.posture` (default `dev`) in `postures/<name>.yaml` whose `auth.method` protects it (a posture
 * without one gets `node_token`: the safe choice), and
 * `site.yaml` `defaults.domain` / `defaults.timezone` filled in where the spec has none. Secrets (ssh keys by
 * name) are not resolved: the controller never serves secrets.
 */
import { readdir, readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { parseDocument } from 'yaml';
import { isPlainMap } from '../data/merge.ts';
import { StrataError } from '../errors.ts';
import { LoadedSpecSource, parseAuthMethod } from './source.ts';
import type { NodeEntry } from './types.ts';

type Doc = Record<string, unknown>;

export async function siteConfigNodes(dir: string): Promise<NodeEntry[]> {
  const specFiles = await yamlFiles(join(dir, 'specs'));
  if (specFiles === undefined) {
    throw new StrataError(`${dir} has no specs/ folder`, {
      hint: 'point --site-config at a folder holding specs/<name>.yaml and postures/<name>.yaml',
    });
  }
  const site = (await readYaml(join(dir, 'site.yaml'), true)) ?? {};
  const defaults = isPlainMap(site.defaults) ? site.defaults : {};
  const postures = new Map<string, Doc>();
  const nodes: NodeEntry[] = [];
  for (const file of specFiles) {
    const identity = basename(file, '.yaml');
    const spec = (await readYaml(file, false)) ?? {};
    const access = isPlainMap(spec.access) ? spec.access : {};
    const postureName = typeof access.posture === 'string' ? access.posture : 'dev';
    let posture = postures.get(postureName);
    if (!posture) {
      const postureFile = join(dir, 'postures', `${postureName}.yaml`);
      const loaded = await readYaml(postureFile, true);
      if (!loaded) {
        throw new StrataError(`posture '${postureName}' not found (${postureFile})`, {
          location: { file },
          hint: 'create the posture file or fix access.posture in the spec',
        });
      }
      posture = loaded;
      postures.set(postureName, posture);
    }
    const auth = isPlainMap(posture.auth) ? posture.auth.method : undefined;
    const identitySection = isPlainMap(spec.identity) ? spec.identity : {};
    const config = isPlainMap(spec.config) ? spec.config : {};
    const resolved: Doc = {
      ...spec,
      identity: {
        ...identitySection,
        hostname: identitySection.hostname ?? identity,
        ...(identitySection.domain === undefined && defaults.domain !== undefined ? { domain: defaults.domain } : {}),
      },
    };
    if (config.timezone === undefined && defaults.timezone !== undefined) {
      resolved.config = { ...config, timezone: defaults.timezone };
    }
    nodes.push({
      identity,
      auth: parseAuthMethod(auth ?? 'node_token', `postures/${postureName}.yaml (auth.method)`),
      spec: resolved,
      origin: file,
    });
  }
  return nodes;
}

export function siteConfigSpecSource(dir: string): Promise<LoadedSpecSource> {
  return LoadedSpecSource.create(() => siteConfigNodes(dir));
}

async function yamlFiles(dir: string): Promise<string[] | undefined> {
  try {
    const names = await readdir(dir);
    return names
      .filter((n) => n.endsWith('.yaml'))
      .sort()
      .map((n) => join(dir, n));
  } catch {
    return undefined;
  }
}

async function readYaml(file: string, optional: boolean): Promise<Doc | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if (optional && (error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new StrataError(`cannot read ${file}: ${(error as Error).message}`);
  }
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    const first = doc.errors[0];
    throw new StrataError(`invalid YAML in ${file}: ${first.message.split('\n')[0]}`, {
      location: { file, line: first.linePos?.[0].line, col: first.linePos?.[0].col },
    });
  }
  const value: unknown = doc.toJS();
  if (value === null || value === undefined) return undefined;
  if (!isPlainMap(value)) throw new StrataError(`${file} must hold a mapping`, { location: { file } });
  return value;
}
