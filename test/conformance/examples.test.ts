// Reads Atmos's bundled examples from ../shared/conformance/atmos/examples (skipped when ../shared is absent).
/**
 * Every Atmos example with an atmos.yaml: `list stacks` and `describe stacks` succeed, except the ones named below,
 * which need the network or a cloud/emulator call and must then fail with a message saying so (no stack trace).
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type CliServer, startCliServer } from '../helpers/cli-server.ts';
import { sharedDir, skipWithoutShared } from '../helpers/shared.ts';

const examples = join(sharedDir, 'conformance', 'atmos', 'examples');

/** Examples that cannot be described here, why, and what strata must say. */
const NEEDS_OUTSIDE: Record<string, { list?: RegExp; describe: RegExp; why: string }> = {
  'remote-stack-imports': {
    list: /remote imports are not supported/,
    describe: /remote imports are not supported/,
    why: 'imports stack manifests over HTTPS',
  },
  'demo-helmfile': { describe: /!emulator .*emulators are not supported/, why: 'reads a local Kubernetes emulator' },
  'local-gitops': { describe: /!emulator .*emulators are not supported/, why: 'reads a git-server emulator' },
  'onepassword-secrets': {
    describe: /provider 'op'.*strata reads secrets from SOPS files only/,
    why: 'reads secrets from 1Password',
  },
  'quick-start-advanced': {
    // Without tofu on PATH the error names the tool, where to install it and how to switch to terraform.
    describe:
      /tofu not found on PATH[\s\S]*opentofu\.org[\s\S]*components\.terraform\.command: terraform|!terraform\.state/,
    why: 'reads a Terraform state from S3 (!terraform.state kms-key) before falling back to the default',
  },
};

const names = existsSync(examples)
  ? readdirSync(examples).filter((name) => existsSync(join(examples, name, 'atmos.yaml')))
  : [];

describe('Atmos examples: list stacks and describe stacks', { skip: skipWithoutShared }, () => {
  // One loaded CLI runs every command (130 of them): start-up is tested elsewhere.
  let cli: CliServer;
  before(async () => {
    cli = await startCliServer();
  });
  after(() => cli.close());
  for (const name of names) {
    test(name, async () => {
      const cwd = join(examples, name);
      const env = { ATMOS_CLI_CONFIG_PATH: cwd, ATMOS_GIT_ROOT_BASEPATH: 'false', PATH: '/usr/bin:/bin' };
      const outside = NEEDS_OUTSIDE[name];
      for (const [args, expected] of [
        [['list', 'stacks'], outside?.list],
        [['describe', 'stacks', '--format', 'json'], outside?.describe],
      ] as const) {
        const result = await cli.run([...args], { cwd, env });
        if (expected) {
          assert.equal(result.code, 1, `${name}: ${args.join(' ')} should fail (${outside?.why})`);
          assert.match(result.stderr, expected);
        } else {
          assert.equal(result.code, 0, `${name}: ${args.join(' ')}\n${result.stderr}`);
          if (args[0] === 'describe') JSON.parse(result.stdout);
        }
        assert.doesNotMatch(result.stderr, /Internal error|\n\s+at .+\(.+:\d+:\d+\)/, 'no stack trace');
      }
    });
  }
});
