/**
 * The layer check (`npm run check:deps`): imports only point down the layers below, never in a cycle (type-only
 * imports included), and the Proxmox simulator stays a separate entry. docs/architecture.md explains the layers.
 */

/** Folders (and top-level files) of src/, lowest layer first. A module may import its own layer and lower ones. */
const LAYERS = [
  /* 1 */ ['data', 'util', 'errors.ts'],
  /* 2 */ ['config', 'graph', 'exec', 'store'],
  /* 3 */ ['template', 'functions', 'validate', 'secrets', 'proxmox'],
  /* 4 */ ['stacks'],
  /* 5 */ ['components', 'operator', 'workflows', 'gitops', 'controller', 'vendor'],
  /* 6 */ ['services'],
  /* 7 */ ['cli'],
  /* the library entry point */ ['index.ts'],
];

const escape = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** `src/<folder>/...` or the file `src/<name>.ts` itself. */
const pathsOf = (names) =>
  names.map((name) => (name.endsWith('.ts') ? `^src/${escape(name)}$` : `^src/${escape(name)}/`)).join('|');

const upwardRules = LAYERS.slice(0, -1).map((names, index) => ({
  name: `layer-${index + 1}-imports-upward`,
  comment: `layer ${index + 1} (${names.join(', ')}) may import only its own layer and the ones below it`,
  severity: 'error',
  from: { path: pathsOf(names) },
  to: { path: pathsOf(LAYERS.slice(index + 1).flat()) },
}));

module.exports = {
  forbidden: [
    {
      name: 'no-cycles',
      comment: 'modules form no cycle, type-only imports included: a cycle ties its modules into one unit',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    ...upwardRules,
    {
      name: 'simulator-only-from-cli',
      comment: 'the Proxmox simulator is a separate entry point: only the CLI (and tests, benchmarks) start it',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/cli/|^src/proxmox/simulator/' },
      to: { path: '^src/proxmox/simulator/' },
    },
  ],
  options: {
    includeOnly: '^src/',
    // Type-only imports are dependencies too: a type cycle still ties the modules together.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    doNotFollow: { path: 'node_modules' },
  },
};
