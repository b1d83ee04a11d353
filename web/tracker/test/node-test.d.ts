// Just the parts of node:test and node:assert these tests use: the workspace
// has no @types/node, and the tracker itself must not depend on Node types.

declare module 'node:test' {
  type TestFn = () => void | Promise<void>;
  export function test(name: string, fn: TestFn): Promise<void>;
  export function describe(name: string, fn: () => void): void;
  export function it(name: string, fn: TestFn): void;
  export function beforeEach(fn: TestFn): void;
  export function afterEach(fn: TestFn): void;
}

declare module 'node:assert/strict' {
  function assert(value: unknown, message?: string): asserts value;
  namespace assert {
    function ok(value: unknown, message?: string): asserts value;
    function equal<T>(actual: unknown, expected: T, message?: string): asserts actual is T;
    function notEqual(actual: unknown, expected: unknown, message?: string): void;
    function deepEqual<T>(actual: unknown, expected: T, message?: string): asserts actual is T;
    function notDeepEqual(actual: unknown, expected: unknown, message?: string): void;
    function match(value: string, pattern: RegExp, message?: string): void;
    function doesNotMatch(value: string, pattern: RegExp, message?: string): void;
    function throws(fn: () => unknown, expected?: RegExp | Function | object, message?: string): void;
    function rejects(
      promise: Promise<unknown> | (() => Promise<unknown>),
      expected?: RegExp | Function | object,
      message?: string,
    ): Promise<void>;
    function fail(message?: string): never;
  }
  export default assert;
}
