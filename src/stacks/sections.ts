/**
 * How the engine names and shows a component section: stack names from name_pattern, Terraform workspaces, Go
 * templates rendered value by value (errors located in the file that wrote them), and the section as describe prints it.
 */
import type { StrataConfig } from '../config/types.ts';
import { isPlainMap, mapDeep, type PlainMap } from '../data/merge.ts';
import { type SourceLocation, StrataError } from '../errors.ts';
import { type FuncMap, hasTemplate, renderTemplate, TemplateError, type TemplateLimits } from '../template/index.ts';
import { copyInheritance, lazyInheritanceTemplated, type RawComponent } from './components.ts';

const patternTokens = new Map<string, string[]>();

/** name_pattern: only {namespace}, {tenant}, {environment}, {stage} are understood (Atmos's GetContextPrefix). */
export function patternName(pattern: string, vars: PlainMap, manifest: string): string {
  let tokens = patternTokens.get(pattern);
  if (!tokens) {
    tokens = pattern.split('-').flatMap((t) => /^\{(namespace|tenant|environment|stage)\}$/.exec(t)?.[1] ?? []);
    patternTokens.set(pattern, tokens);
  }
  let name = '';
  for (let i = 0; i < tokens.length; i++) {
    const value = vars[tokens[i]];
    if (value === undefined || value === null || value === '') {
      throw new StrataError(`stack name pattern '${pattern}' needs vars.${tokens[i]}, which ${manifest} does not set`, {
        hint: `set vars.${tokens[i]} in the manifest or a file it imports`,
      });
    }
    name = i === 0 ? String(value) : `${name}-${value}`;
  }
  return name;
}

/** The stack's `version.track` (Atmos's managed versions). */
export function versionTrack(doc: PlainMap): string | undefined {
  const track = isPlainMap(doc.version) ? doc.version.track : undefined;
  return typeof track === 'string' ? track : undefined;
}

/** Atmos's BuildTerraformWorkspace (notes/atmos-reference.md 2.6). */
export function workspaceName(config: StrataConfig, section: PlainMap, raw: RawComponent, stack: string): string {
  const terraform = config.components.terraform?.raw ?? {};
  if (terraform.workspaces_enabled === false || section.backend_type === 'http') return 'default';
  const metadata = isPlainMap(section.metadata) ? section.metadata : {};
  let workspace: string;
  if (typeof metadata.terraform_workspace_template === 'string' && metadata.terraform_workspace_template) {
    workspace = renderTemplate(metadata.terraform_workspace_template, section, {
      name: 'metadata.terraform_workspace_template',
    });
  } else if (typeof metadata.terraform_workspace_pattern === 'string' && metadata.terraform_workspace_pattern) {
    const vars = isPlainMap(section.vars) ? section.vars : {};
    workspace = metadata.terraform_workspace_pattern.replace(
      /\{(namespace|tenant|environment|region|stage|attributes|component|base-component)\}/g,
      (_m, key: string) => {
        if (key === 'component') return raw.name;
        if (key === 'base-component') return raw.folder;
        return String(vars[key] ?? '');
      },
    );
  } else if (typeof metadata.terraform_workspace === 'string' && metadata.terraform_workspace) {
    workspace = metadata.terraform_workspace;
  } else if (!raw.baseComponent) {
    workspace = stack;
  } else {
    workspace = `${stack}-${raw.name}`;
  }
  return workspace.replaceAll('/', '-');
}

/** Per delimiter, whether a (shared, immutable) subtree holds a template: catalogs' sections are checked once. */
const templateMemo = new Map<string, WeakMap<object, boolean>>();

export function hasTemplatesDeep(value: unknown, left: string): boolean {
  if (typeof value === 'string') return value.includes(left);
  if (typeof value !== 'object' || value === null) return false;
  let memo = templateMemo.get(left);
  if (!memo) {
    memo = new WeakMap();
    templateMemo.set(left, memo);
  }
  let found = memo.get(value);
  if (found === undefined) {
    found = false;
    if (Array.isArray(value)) found = value.some((v) => hasTemplatesDeep(v, left));
    else if (isPlainMap(value)) {
      for (const key of Object.keys(value)) {
        if (key.includes(left) || hasTemplatesDeep(value[key], left)) {
          found = true;
          break;
        }
      }
    }
    memo.set(value, found);
  }
  return found;
}

/** Whether a section holds a template: a long chain's `inheritance`, listed lazily, is judged without listing it. */
export function sectionHasTemplates(section: PlainMap, left: string): boolean {
  const lazy = lazyInheritanceTemplated(section);
  if (lazy === undefined) return hasTemplatesDeep(section, left);
  if (lazy) return true;
  for (const key of Object.keys(section)) {
    if (key.includes(left) || (key !== 'inheritance' && hasTemplatesDeep(section[key], left))) return true;
  }
  return false;
}

/** Renders every string (and key) holding a template, with the whole component section as data. */
export function renderDeep(
  value: unknown,
  data: PlainMap,
  name: string,
  delimiters: [string, string],
  locate: Locate,
  funcs: FuncMap,
  limits: TemplateLimits,
): unknown {
  const render = (text: string) =>
    hasTemplate(text, delimiters) ? renderIn(text, data, name, delimiters, locate, funcs, limits) : text;
  return mapDeep(value, (leaf) => (typeof leaf === 'string' ? render(leaf) : leaf), render);
}

/** Finds the file (and line) a template text was written in. */
export type Locate = (text: string) => SourceLocation;

/** Renders one value; a template error names the file and line the template was written in. */
function renderIn(
  text: string,
  data: PlainMap,
  name: string,
  delimiters: [string, string],
  locate: Locate,
  funcs: FuncMap,
  limits: TemplateLimits,
): string {
  try {
    return renderTemplate(text, data, { name, delimiters, missingkey: 'default', funcs, limits });
  } catch (error) {
    if (error instanceof TemplateError && !error.location) {
      const location = locate(text);
      const details = [`In a value of ${name}, written in ${location.file}:`, error.details ?? text].join('\n');
      throw new StrataError(error.message, { location, hint: error.hint, details });
    }
    throw error;
  }
}

/**
 * The section as `describe` prints it: Atmos's keys in sorted order. The builder always sets exactly these keys, so
 * one object literal (one hidden class for every instance) replaces a generic sort: 16,000 instances add up.
 */
export function describedSection(s: PlainMap, stack: string, workspace: string | undefined): PlainMap {
  const section: PlainMap = {
    atmos_component: s.atmos_component,
    atmos_manifest: s.atmos_manifest,
    atmos_stack: stack,
    atmos_stack_file: s.atmos_stack_file,
    auth: s.auth,
    backend: s.backend,
    backend_type: s.backend_type,
    command: s.command,
    component: s.component,
    component_info: s.component_info,
    dependencies: s.dependencies,
    env: s.env,
    generate: s.generate,
    hooks: s.hooks,
    inheritance: undefined,
    metadata: s.metadata,
    overrides: s.overrides,
    providers: s.providers,
    provision: s.provision,
    remote_state_backend: s.remote_state_backend,
    remote_state_backend_type: s.remote_state_backend_type,
    required_providers: s.required_providers,
    required_version: s.required_version,
    settings: s.settings,
    source: s.source,
    stack,
    vars: s.vars,
    workspace,
  };
  copyInheritance(s, section);
  if (workspace === undefined) delete section.workspace;
  // Atmos's declared secrets (secrets.vars, secrets.providers): shown only where a stack declares some.
  if (isPlainMap(s.secrets) && Object.keys(s.secrets).length > 0) section.secrets = s.secrets;
  // Atmos's `mocks:`: outputs that !terraform.state/output give while the component is not provisioned.
  if (isPlainMap(s.mocks) && Object.keys(s.mocks).length > 0) section.mocks = s.mocks;
  return section;
}
