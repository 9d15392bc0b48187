import { describe, expect, it } from 'vitest';
import { loadedOnUse } from '../../../shared/aws/loaded-on-use.js';

class Counter {
  #n = 0;
  async add(k: number): Promise<number> {
    this.#n += k;
    return this.#n;
  }
}

describe('loadedOnUse', () => {
  it('makes nothing until a method is called, then makes the object once and delegates with its this', async () => {
    // Prepare
    let made = 0;
    const counter = loadedOnUse(async () => {
      made++;
      return new Counter();
    });

    // Act
    const before = made;
    const answers = await Promise.all([counter.add(1), counter.add(2)]);
    const third = await counter.add(3);

    // Assess
    expect(before).toBe(0);
    expect(made).toBe(1);
    expect(answers.sort()).toEqual([1, 3]);
    expect(third).toBe(6);
  });

  it('passes a failed load to its caller and tries again at the next call', async () => {
    // Prepare: the first load fails (a chunk that could not be read, say)
    let attempts = 0;
    const counter = loadedOnUse(async () => {
      attempts++;
      if (attempts === 1) throw new Error('load failed');
      return new Counter();
    });

    // Act / Assess
    await expect(counter.add(1)).rejects.toThrow('load failed');
    await expect(counter.add(1)).resolves.toBe(1);
    expect(attempts).toBe(2);
  });

  it('is not a thenable, so awaiting the stand-in itself does not call a method', async () => {
    // Prepare
    let made = 0;
    const counter = loadedOnUse(async () => {
      made++;
      return new Counter();
    });

    // Act
    const awaited = await counter;

    // Assess
    expect(awaited).toBe(counter);
    expect(made).toBe(0);
  });
});
