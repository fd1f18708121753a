import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CairnError } from '../../src/core/errors.js';
import { parseClientFrame, taskError } from '../../src/protocol/live-frames.js';

const SEED = Number(process.env.CAIRN_SEED ?? Date.now() % 2 ** 31);

describe('live protocol client frames', () => {
  it('reads each command with its args checked', () => {
    const hello = parseClientFrame({
      id: 1,
      cmd: '/storage/hello',
      args: { clientId: 'c1', sinceEpoch: 4, encoding: 'cbor' },
    });
    expect(hello).toEqual({
      type: 'invocation',
      invocation: {
        id: 1,
        cmd: '/storage/hello',
        args: { clientId: 'c1', sinceEpoch: 4, encoding: 'cbor' },
      },
    });
    const sub = parseClientFrame({
      id: 'j',
      cmd: '/storage/subscribe',
      args: { docId: 'notes/1' },
    });
    expect(sub.type).toBe('invocation');
    const tx = parseClientFrame({ id: 2, cmd: '/storage/tx', args: { writes: [] } });
    expect(tx.type).toBe('invocation');
    expect(parseClientFrame({ type: 'ack', epoch: 42 })).toEqual({ type: 'ack', epoch: 42 });
  });

  it('refuses an unknown command with its job id', () => {
    const frame = parseClientFrame({ id: 'x', cmd: '/storage/nope', args: {} });
    expect(frame).toMatchObject({ type: 'refused', id: 'x' });
    if (frame.type !== 'refused') throw new Error('not refused');
    expect(frame.error.code).toBe('ValidationError');
    expect(frame.error.message).toMatch(/unknown command/);
  });

  it('refuses bad args naming the field, keeping the id', () => {
    const frame = parseClientFrame({ id: 7, cmd: '/storage/get', args: { docId: '' } });
    expect(frame).toMatchObject({ type: 'refused', id: 7 });
    if (frame.type !== 'refused') throw new Error('not refused');
    expect(frame.error.message).toMatch(/^docId:/);
  });

  it('refuses frames with no usable id with id null', () => {
    for (const bad of [null, 3, 'text', [], {}, { id: {}, cmd: '/storage/get' }, { type: 'ack' }]) {
      const frame = parseClientFrame(bad);
      expect(frame.type, JSON.stringify(bad)).toBe('refused');
      if (frame.type === 'refused') expect(frame.id).toBeNull();
    }
  });

  it(`never throws on any JSON value, and answers every non-ack with one id (seed ${SEED})`, () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const frame = parseClientFrame(value);
        expect(['invocation', 'ack', 'refused']).toContain(frame.type);
        if (frame.type === 'refused') expect(frame.error).toBeInstanceOf(CairnError);
      }),
      { seed: SEED, numRuns: 2000 },
    );
  });

  it('an error task/return carries the code, message and details', () => {
    const err = new CairnError('LimitExceeded', 'too many', { limit: 'maxInFlightTx' });
    expect(taskError(5, err)).toEqual({
      type: 'task/return',
      id: 5,
      error: { code: 'LimitExceeded', message: 'too many', limit: 'maxInFlightTx' },
    });
  });
});
