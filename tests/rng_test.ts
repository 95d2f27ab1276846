import { assert } from "./deps.ts";
import { Rng } from "../runtime/core/rng.ts";

const take = (rng: Rng, n: number) => Array.from({ length: n }, () => rng.next());

Deno.test("Rng gives the same stream for the same seed and a different one for another seed", () => {
  const a = take(new Rng(7), 100);
  assert.deepEqual(take(new Rng(7), 100), a);
  assert.notDeepEqual(take(new Rng(8), 100), a);
  for (const v of a) assert.ok(v >= 0 && v < 1);
});

Deno.test("Rng restored from a JSON round-trip of its state continues the stream identically", () => {
  const rng = new Rng(123);
  take(rng, 37);
  rng.normal();
  rng.shuffle([1, 2, 3, 4]);
  const saved = JSON.parse(JSON.stringify(rng.state()));
  const expected = [...take(rng, 20), rng.int(10), rng.normal(), ...rng.permutation(8)];
  const restored = Rng.fromState(saved);
  const actual = [...take(restored, 20), restored.int(10), restored.normal(), ...restored.permutation(8)];
  assert.deepEqual(actual, expected);
});

Deno.test("Rng.fromState() rejects something that is not a generator state", () => {
  assert.throws(() => Rng.fromState({ kind: "mulberry32", a: -1 }), /not a random generator state/);
  assert.throws(() => Rng.fromState(JSON.parse('{"seed": 3}')), /not a random generator state/);
});

Deno.test("Rng.int() covers every outcome about uniformly and rejects a bad n", () => {
  const rng = new Rng(1);
  const counts = new Array<number>(5).fill(0);
  for (let i = 0; i < 5000; i++) {
    const k = rng.int(5);
    counts[k] = (counts[k] ?? 0) + 1;
  }
  for (const c of counts) assert.ok(c > 850 && c < 1150, `count ${c}`);
  assert.throws(() => rng.int(0), RangeError);
  assert.throws(() => rng.int(2.5), RangeError);
});

Deno.test("Rng.normal() has mean about 0 and variance about 1", () => {
  const rng = new Rng(2);
  const xs = Array.from({ length: 20000 }, () => rng.normal());
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const variance = xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length;
  assert.ok(Math.abs(mean) < 0.03, `mean ${mean}`);
  assert.ok(Math.abs(variance - 1) < 0.05, `variance ${variance}`);
});

Deno.test("Rng.shuffle() permutes in place and keeps every element", () => {
  const rng = new Rng(3);
  const array = Array.from({ length: 50 }, (_, i) => i);
  const same = rng.shuffle(array);
  assert.equal(same, array);
  assert.notDeepEqual(array, Array.from({ length: 50 }, (_, i) => i));
  assert.deepEqual([...array].sort((a, b) => a - b), Array.from({ length: 50 }, (_, i) => i));
});
