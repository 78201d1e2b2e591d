import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { StrataError } from '../../src/errors.ts';
import { formatUpid, parseUpid, virtualizationFlag } from '../../src/proxmox/client.ts';

const hostLabel = fc.stringMatching(/^[a-zA-Z0-9]([a-zA-Z0-9-]{0,20}[a-zA-Z0-9])?$/);
const field = fc.stringMatching(/^[a-zA-Z0-9_.@!-]{1,24}$/);
const upidParts = fc.record({
  node: hostLabel,
  pid: fc.integer({ min: 0, max: 0xffffffff }),
  pstart: fc.integer({ min: 0, max: 0xffffffff }),
  starttime: fc.integer({ min: 0, max: 0xffffffff }),
  type: field,
  id: fc.oneof(fc.constant(''), fc.stringMatching(/^[a-zA-Z0-9_.@-]{1,12}$/)),
  user: fc.tuple(field, field).map(([u, realm]) => `${u.replace(/[@!]/g, '')}x@${realm.replace(/[@!]/g, '')}y`),
});

test('formatUpid/parseUpid round-trip for any well-formed task id (property, 300 runs)', () => {
  fc.assert(
    fc.property(upidParts, (parts) => {
      const upid = formatUpid(parts);
      assert.match(upid, /^UPID:[^:]+:[0-9A-F]{8}:[0-9A-F]{8}:[0-9A-F]{8}:[^:]+:[^:]*:[^:]+:$/);
      assert.deepEqual(parseUpid(upid), { ...parts });
      assert.equal(formatUpid(parseUpid(upid)), upid);
    }),
    { numRuns: 300 },
  );
});

test('parseUpid reads a UPID as PVE writes it, token user included', () => {
  assert.deepEqual(parseUpid('UPID:pve1:0002F1A3:01A2B3C4:65F0A1B2:qmclone:9000:root@pam!strata:'), {
    node: 'pve1',
    pid: 0x2f1a3,
    pstart: 0x1a2b3c4,
    starttime: 0x65f0a1b2,
    type: 'qmclone',
    id: '9000',
    user: 'root@pam!strata',
  });
});

test('parseUpid rejects malformed task ids with a StrataError naming the input (property, 200 runs)', () => {
  const broken = fc.oneof(
    fc.string().filter((s) => !s.startsWith('UPID:')),
    upidParts.map((p) => formatUpid(p).slice(0, -1)), // trailing colon missing
    upidParts.map((p) => formatUpid(p).replace(/^UPID:[^:]+:[0-9A-F]{8}/, 'UPID:x:XYZ')), // pid not hex
  );
  fc.assert(
    fc.property(broken, (text) => {
      assert.throws(
        () => parseUpid(text),
        (e: unknown) => e instanceof StrataError && e.message.includes('UPID'),
      );
    }),
    { numRuns: 200 },
  );
});

test('virtualizationFlag finds vmx or svm', () => {
  assert.equal(virtualizationFlag(['fpu', 'vmx']), 'vmx');
  assert.equal(virtualizationFlag(['svm', 'sse']), 'svm');
  assert.equal(virtualizationFlag(['fpu', 'sse']), undefined);
});
