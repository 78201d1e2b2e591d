/**
 * Fake AWS on loopback for one test file: s3rver (S3, objects in a temp folder) and dynalite (DynamoDB, in memory),
 * both from the project's dev dependencies, on random ports, in a child process. Terraform's real s3 backend talks to them.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { createInterface } from 'node:readline';

export const FAKE_KEYS = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' };

export interface FakeAws {
  s3: string;
  dynamodb: string;
  /** The s3rver data folder. */
  dir: string;
  /** Keys of the objects in a bucket (s3rver keeps each object in a folder with its metadata). */
  objects(bucket: string): string[];
  /** The s3 backend settings that reach these servers (Terraform 1.11 names). */
  backend(bucket: string, extra?: Record<string, unknown>): Record<string, unknown>;
  stop(): Promise<void>;
}

export async function startFakeAws(options: { buckets?: string[] } = {}): Promise<FakeAws> {
  const dir = mkdtempSync(join(tmpdir(), 'strata-s3rver-'));
  const server = spawn(
    process.execPath,
    [new URL('./fake-aws-server.mjs', import.meta.url).pathname, dir, ...(options.buckets ?? [])],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const lines = createInterface({ input: server.stdout });
  const first = await new Promise<string>((resolve, reject) => {
    lines.once('line', resolve);
    server.once('exit', (code) => reject(new Error(`fake AWS servers exited with ${code}`)));
  });
  lines.close();
  const { s3, dynamodb } = JSON.parse(first) as { s3: string; dynamodb: string };
  return {
    s3,
    dynamodb,
    dir,
    objects(bucket) {
      const root = join(dir, bucket);
      const keys: string[] = [];
      const walk = (d: string) => {
        for (const name of readdirSync(d)) {
          const path = join(d, name);
          if (name.endsWith('._S3rver_object')) keys.push(relative(root, path).slice(0, -'._S3rver_object'.length));
          else if (statSync(path).isDirectory()) walk(path);
        }
      };
      try {
        walk(root);
      } catch {
        return [];
      }
      return keys.sort();
    },
    backend(bucket, extra = {}) {
      return {
        bucket,
        key: 'terraform.tfstate',
        region: 'us-east-1',
        use_path_style: true,
        skip_credentials_validation: true,
        skip_requesting_account_id: true,
        skip_metadata_api_check: true,
        skip_region_validation: true,
        endpoints: { s3, dynamodb },
        ...extra,
      };
    },
    async stop() {
      const exited = new Promise((resolve) => server.once('exit', resolve));
      server.stdin?.end();
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A PATH with node and nothing else: whatever strata then reads, it read without running terraform. */
export function pathWithoutTerraform(): string {
  const bin = mkdtempSync(join(tmpdir(), 'strata-node-only-'));
  symlinkSync(process.execPath, join(bin, 'node'));
  return bin;
}
