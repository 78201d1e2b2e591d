/**
 * `!secret` in its two forms: strata's `!secret <file> [key.path]` / `!secret env:NAME`, and Atmos's `!secret NAME`
 * for a secret declared under the component's `secrets.vars` (`NAME: {sops: <provider>}`) whose provider is a SOPS
 * file (`secrets.providers.<provider>: {kind: sops/age, spec: {file}}`). Both take `| default <value>` (used when the
 * key is not in the file: SOPS keeps key names in clear, so no decryption is needed to know) and `| path .a.b`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import type { StrataConfig } from '../config/types.ts';
import { isPlainMap, type PlainMap } from '../data/merge.ts';
import { parseYaml, type YamlFunction } from '../data/yaml.ts';
import { StrataError } from '../errors.ts';
import { parseSecretTag } from '../secrets/values.ts';
import { renderTemplate } from '../template/index.ts';
import { parsePipes, splitArgs } from './args.ts';

const asMap = (value: unknown): PlainMap => (isPlainMap(value) ? value : {});

/** What `!secret` reads of the function context. */
interface SecretContext {
  config: StrataConfig;
  section: PlainMap;
}

/** `.a.b[0]` as a key path `a.b[0]` (SecretRef paths); other jq is refused, secrets stay unread until a tool runs. */
function keyPathOf(query: string): string {
  if (!/^(\.[A-Za-z0-9_-]+|\[\d+\])+$/.test(query)) {
    throw new StrataError(`'| path ${query}' must be a plain path such as .host or .users[0].name`, {
      hint: 'a secret is read only when a tool runs, so only key paths can be applied to it',
    });
  }
  return query.replace(/^\./, '');
}

/** Atmos's declared secret: the SOPS file of its provider, with the secret's name as the key. */
function declaredSecret(name: string, context: SecretContext): { file: string; key: string } | string {
  const secrets = asMap(context.section.secrets);
  const declaration = asMap(asMap(secrets.vars)[name]);
  const providerName = [declaration.sops, declaration.provider, declaration.store].find((p) => typeof p === 'string');
  if (typeof providerName !== 'string') return `secret '${name}' names no provider (sops: <provider>)`;
  const provider = asMap(asMap(secrets.providers)[providerName]);
  const kind = String(provider.kind ?? '');
  const file = asMap(provider.spec).file;
  if (!kind.startsWith('sops') || typeof file !== 'string') {
    return `secret '${name}' comes from provider '${providerName}' (${kind || 'a store'}); strata reads secrets from SOPS files only (kind: sops/age, spec.file)`;
  }
  return {
    file: renderTemplate(file, context.section, { name: `secrets.providers.${providerName}.spec.file` }),
    key: name,
  };
}

/** Whether the key path exists in a SOPS/YAML file, read without decrypting; undefined when the file is unreadable. */
function hasKey(path: string, keyPath: string): boolean | undefined {
  let data: unknown;
  try {
    data = parseYaml(readFileSync(path, 'utf8'), path);
  } catch {
    return undefined;
  }
  let current = data;
  for (const part of keyPath.match(/[^.[\]]+/g) ?? []) {
    if (Array.isArray(current) && /^\d+$/.test(part)) current = current[Number(part)];
    else if (isPlainMap(current)) current = current[part];
    else return false;
    if (current === undefined) return false;
  }
  return true;
}

export function secretValue(text: string, fn: YamlFunction, context: SecretContext): unknown {
  const { base, fallback, query } = parsePipes(text);
  const words = splitArgs(base);
  const dirs = [dirname(fn.file), context.config.basePath];
  const declared = words.length === 1 && isPlainMap(asMap(asMap(context.section.secrets).vars)[words[0]]);
  let spec = base;
  if (declared) {
    const target = declaredSecret(words[0], context);
    if (typeof target === 'string') {
      if (fallback) return fallback.value;
      throw new StrataError(target, {
        hint: 'declare a SOPS provider, or give a default: !secret NAME | default "value"',
      });
    }
    spec = `${target.file} ${target.key}`;
  }
  if (query) spec = `${spec}${splitArgs(spec).length > 1 ? '.' : ' '}${keyPathOf(query)}`;
  const ref = parseSecretTag(spec, dirs);
  if (fallback && !spec.startsWith('env:')) {
    const [file, keyPath] = splitArgs(spec);
    const path = isAbsolute(file) ? file : dirs.map((d) => resolve(d, file)).find((p) => existsSync(p));
    const found = keyPath === undefined || path === undefined ? undefined : hasKey(path, keyPath);
    if (found !== true) return fallback.value;
  }
  return ref;
}
