/**
 * The CI pipelines `strata ci init` writes, for a user's infrastructure repository (no package.json needed):
 * - on a pull/merge request: find the affected instances, plan them in parallel jobs (GitHub/Gitea: a matrix fed by
 *   `describe affected --format matrix`, at most `maxParallel` at once; GitLab: `parallel` shards of the same list),
 *   gather one summary, post it as the request's comment and keep the plans as an artifact keyed by the head commit;
 * - on the default branch: fetch the plans reviewed for the merged request and apply exactly those
 *   (`--require-plan`), refusing any instance whose inputs changed since it was planned.
 * strata is installed pinned, from npm, into the runner's temp folder; every step runs in the folder that holds
 * atmos.yaml; secrets reach the jobs by name (CI_SECRETS, documented in docs/gitops.md).
 */
/** The GitLab job whose artifacts hold the gathered plans (`ci fetch-plans gitlab` looks for it). */
export const GITLAB_SUMMARY_JOB = 'strata-summary';

export interface TemplateOptions {
  /** The folder holding atmos.yaml, relative to the repository root ('' for the root). */
  workingDirectory: string;
  /** What `npm install` installs: `strata-iac@<version>` (a tarball path or URL works too). */
  strataPackage: string;
  /** Plan jobs running at once. */
  maxParallel: number;
  /** The branch that is applied. */
  branch: string;
}

/** The secrets the jobs read, by name: create the ones the stacks use (docs/gitops.md has the table). */
export const CI_SECRETS: Array<{ name: string; purpose: string }> = [
  { name: 'SOPS_AGE_KEY', purpose: 'age identity for SOPS-encrypted files and `!secret` values' },
  { name: 'STRATA_VAULT_PASSWORD', purpose: 'Ansible Vault password for vault files and `!vault` values' },
  {
    name: 'PM_API_TOKEN_SECRET',
    purpose: "Proxmox API token secret (the example's settings.proxmox.token_secret_env)",
  },
  { name: 'STRATA_PVE_TOKEN', purpose: 'Proxmox API token for the operator (`USER@REALM!ID=SECRET`)' },
  { name: 'AWS_ACCESS_KEY_ID', purpose: 'S3 state backend credentials' },
  { name: 'AWS_SECRET_ACCESS_KEY', purpose: 'S3 state backend credentials' },
  { name: 'PG_CONN_STR', purpose: 'PostgreSQL state backend connection string' },
  { name: 'STRATA_DATABASE_URL', purpose: 'PostgreSQL for team locks and run records' },
];

/** A GitHub/Gitea Actions expression, `${{ ... }}`. */
const gh = (expression: string) => `$${'{{'} ${expression} }}`;

const under = (dir: string, path: string) => (dir ? `${dir}/${path}` : path);

type Job = Record<string, unknown>;

/** What the GitHub and Gitea jobs share: the forge's token and API, setup steps, artifact steps, secrets. */
function actionsParts(forge: 'github' | 'gitea', options: TemplateOptions) {
  const github = forge === 'github';
  // Gitea's artifact server speaks the v3 protocol: no name patterns, each artifact in its own folder.
  const artifacts = github ? 'v4' : 'v3';
  const parts = {
    forge,
    github,
    artifacts,
    head: gh('github.event.pull_request.head.sha'),
    plansPath: under(options.workingDirectory, '.strata/plans'),
    secrets: Object.fromEntries(CI_SECRETS.map(({ name }) => [name, gh(`secrets.${name}`)])),
    forgeApi: {
      STRATA_FORGE_TOKEN: github ? gh('github.token') : gh('secrets.GITHUB_TOKEN'),
      STRATA_FORGE_API: github ? gh('github.api_url') : `${gh('github.server_url')}/api/v1`,
      REPOSITORY: gh('github.repository'),
    },
    setup: (history: boolean, terraform: boolean) => [
      { uses: 'actions/checkout@v4', with: history ? { 'fetch-depth': 0 } : {} },
      { uses: 'actions/setup-node@v4', with: { 'node-version': 20 } },
      ...(terraform ? [{ uses: 'hashicorp/setup-terraform@v3', with: { terraform_wrapper: false } }] : []),
      {
        name: 'Install strata',
        run: [
          'npm install --global --no-audit --no-fund --prefix "$RUNNER_TEMP/strata" "$STRATA_PACKAGE"',
          'echo "$RUNNER_TEMP/strata/bin" >> "$GITHUB_PATH"',
        ].join('\n'),
      },
    ],
    upload: (name: string, path: string) => ({
      uses: `actions/upload-artifact@${artifacts}`,
      if: 'always()',
      with: {
        name,
        path,
        'retention-days': 30,
        ...(github ? { 'include-hidden-files': true, 'if-no-files-found': 'ignore' } : {}),
      },
    }),
  };
  return parts;
}
type ActionsParts = ReturnType<typeof actionsParts>;

function affectedJob(p: ActionsParts): Job {
  return {
    if: "github.event_name == 'pull_request'",
    'runs-on': 'ubuntu-latest',
    permissions: { contents: 'read' },
    outputs: { matrix: gh('steps.affected.outputs.matrix'), count: gh('steps.affected.outputs.count') },
    steps: [
      ...p.setup(true, false),
      {
        name: 'Affected instances',
        id: 'affected',
        env: { BASE_REF: gh('github.base_ref') },
        run: [
          'strata describe affected --ref "origin/$BASE_REF" --format matrix > "$RUNNER_TEMP/matrix.json"',
          'echo "matrix=$(cat "$RUNNER_TEMP/matrix.json")" >> "$GITHUB_OUTPUT"',
          'echo "count=$(node -p "require(process.argv[1]).include.length" "$RUNNER_TEMP/matrix.json")" >> "$GITHUB_OUTPUT"',
        ].join('\n'),
      },
    ],
  };
}

function planJob(p: ActionsParts, maxParallel: number): Job {
  return {
    needs: 'affected',
    if: "needs.affected.outputs.count != '0'",
    name: `plan ${gh('matrix.component')} in ${gh('matrix.stack')}`,
    'runs-on': 'ubuntu-latest',
    permissions: { contents: 'read' },
    strategy: {
      'fail-fast': false,
      'max-parallel': maxParallel,
      matrix: gh('fromJSON(needs.affected.outputs.matrix)'),
    },
    env: p.secrets,
    steps: [
      ...p.setup(true, true),
      {
        name: 'Plan',
        env: { BASE_REF: gh('github.base_ref'), INSTANCE: `${gh('matrix.component')}@${gh('matrix.stack')}` },
        run: 'strata plan --affected --ref "origin/$BASE_REF" --instance "$INSTANCE" --plans-dir .strata/plans --format json',
      },
      p.upload(`strata-plan-${p.head}-${gh('strategy.job-index')}`, p.plansPath),
    ],
  };
}

function summaryJob(p: ActionsParts): Job {
  return {
    needs: ['affected', 'plan'],
    if: "always() && github.event_name == 'pull_request'",
    'runs-on': 'ubuntu-latest',
    permissions: { contents: 'read', 'pull-requests': 'write' },
    steps: [
      ...p.setup(false, false),
      {
        uses: `actions/download-artifact@${p.artifacts}`,
        with: p.github
          ? { pattern: `strata-plan-${p.head}-*`, 'merge-multiple': true, path: p.plansPath }
          : { path: p.plansPath },
      },
      {
        name: 'Gather the plans into one summary',
        run: 'mkdir -p .strata/plans && strata ci summary --plans-dir .strata/plans --summary .strata/plans/strata-plan.md',
      },
      {
        name: 'Post or update the summary comment',
        env: { ...p.forgeApi, PR_NUMBER: gh('github.event.pull_request.number') },
        run: `strata ci comment ${p.forge} --repo "$REPOSITORY" --pr "$PR_NUMBER" --file .strata/plans/strata-plan.md`,
      },
      p.upload(`strata-plans-${p.head}`, p.plansPath),
    ],
  };
}

function applyJob(p: ActionsParts): Job {
  return {
    if: "github.event_name == 'push'",
    'runs-on': 'ubuntu-latest',
    environment: 'production',
    permissions: { contents: 'read', actions: 'read', 'pull-requests': 'read' },
    env: p.secrets,
    steps: [
      ...p.setup(true, true),
      {
        name: 'Fetch the plans reviewed in the pull request',
        env: { ...p.forgeApi, COMMIT: gh('github.sha') },
        run: `strata ci fetch-plans ${p.forge} --repo "$REPOSITORY" --commit "$COMMIT" --out .strata/plans`,
      },
      {
        name: 'Apply exactly those plans',
        env: { BEFORE: gh('github.event.before') },
        run: 'strata apply --affected --ref "$BEFORE" --require-plan --plans-dir .strata/plans',
      },
    ],
  };
}

function actionsWorkflow(forge: 'github' | 'gitea', options: TemplateOptions): Record<string, unknown> {
  const parts = actionsParts(forge, options);
  return {
    name: 'strata',
    on: { pull_request: { branches: [options.branch] }, push: { branches: [options.branch] } },
    // Nothing by default; each job asks for what it needs.
    permissions: {},
    concurrency: { group: `strata-${gh('github.ref')}`, 'cancel-in-progress': false },
    env: { STRATA_PACKAGE: options.strataPackage },
    ...(options.workingDirectory ? { defaults: { run: { 'working-directory': options.workingDirectory } } } : {}),
    jobs: {
      affected: affectedJob(parts),
      plan: planJob(parts, options.maxParallel),
      summary: summaryJob(parts),
      apply: applyJob(parts),
    },
  };
}

function gitlabPipeline(options: TemplateOptions): Record<string, unknown> {
  const plansPath = `${under(options.workingDirectory, '.strata/plans')}/`;
  const mergeRequest = { if: '$CI_PIPELINE_SOURCE == "merge_request_event"' };
  const forgeApi = 'STRATA_FORGE_TOKEN="$STRATA_GITLAB_TOKEN" STRATA_FORGE_API="$CI_API_V4_URL"';
  const shard = options.maxParallel > 1 ? '"$CI_NODE_INDEX/$CI_NODE_TOTAL"' : '1/1';
  return {
    stages: ['plan', 'summary', 'apply'],
    workflow: { rules: [mergeRequest, { if: '$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH' }] },
    variables: {
      GIT_DEPTH: '0',
      STRATA_PACKAGE: options.strataPackage,
      STRATA_DIR: options.workingDirectory || '.',
      TERRAFORM_VERSION: '1.11.4',
    },
    '.strata': {
      image: 'node:20-bookworm',
      before_script: [
        'npm install --global --no-audit --no-fund --prefix "$CI_PROJECT_DIR/.strata-cli" "$STRATA_PACKAGE"',
        'export PATH="$CI_PROJECT_DIR/.strata-cli/bin:$PATH"',
        // biome-ignore lint/suspicious/noTemplateCurlyInString: shell variables, expanded by the job's shell
        'command -v terraform >/dev/null || { curl -fsSLo /tmp/terraform.zip "https://releases.hashicorp.com/terraform/${TERRAFORM_VERSION}/terraform_${TERRAFORM_VERSION}_linux_amd64.zip" && unzip -qo /tmp/terraform.zip -d /usr/local/bin; }',
        'cd "$STRATA_DIR"',
      ],
    },
    'strata-plan': {
      extends: '.strata',
      stage: 'plan',
      rules: [mergeRequest],
      // Shards of the affected list (`describe affected --format matrix`): GitLab has no matrix built at run time
      // with a bound, so `parallel` is the bound.
      ...(options.maxParallel > 1 ? { parallel: options.maxParallel } : {}),
      script: [
        'git fetch origin "$CI_MERGE_REQUEST_TARGET_BRANCH_NAME"',
        `strata plan --affected --ref "origin/$CI_MERGE_REQUEST_TARGET_BRANCH_NAME" --shard ${shard} --plans-dir .strata/plans --format json`,
      ],
      artifacts: { when: 'always', expire_in: '30 days', paths: [plansPath] },
    },
    [GITLAB_SUMMARY_JOB]: {
      extends: '.strata',
      stage: 'summary',
      rules: [{ ...mergeRequest, when: 'always' }],
      needs: ['strata-plan'],
      script: [
        'mkdir -p .strata/plans',
        'strata ci summary --plans-dir .strata/plans --summary .strata/plans/strata-plan.md',
        // A project access token with the api scope (CI_JOB_TOKEN can neither write notes nor list pipelines).
        `${forgeApi} strata ci comment gitlab --repo "$CI_PROJECT_ID" --pr "$CI_MERGE_REQUEST_IID" --file .strata/plans/strata-plan.md`,
      ],
      artifacts: { when: 'always', expire_in: '30 days', paths: [plansPath] },
    },
    'strata-apply': {
      extends: '.strata',
      stage: 'apply',
      rules: [{ if: '$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH' }],
      needs: [],
      resource_group: 'strata-apply',
      environment: { name: 'production' },
      script: [
        `${forgeApi} strata ci fetch-plans gitlab --repo "$CI_PROJECT_ID" --commit "$CI_COMMIT_SHA" --out .strata/plans`,
        'strata apply --affected --ref "$CI_COMMIT_BEFORE_SHA" --require-plan --plans-dir .strata/plans',
      ],
    },
  };
}

/** The pipeline of a forge, as data (serialised by `ciTemplates`). */
export function pipelineFor(forge: 'github' | 'gitea' | 'gitlab', options: TemplateOptions): Record<string, unknown> {
  return forge === 'gitlab' ? gitlabPipeline(options) : actionsWorkflow(forge, options);
}
